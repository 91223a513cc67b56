import os
import tempfile
import warnings

import pytest

pytest_plugins = ["pytester"]  # tests/test_layout.py runs the fast-lane check on planted tests

# One cache per test session (features, WordNet copy, text embeddings): tests never touch the
# user's cache, and later tests reuse what earlier ones computed.
os.environ.setdefault("HEADSTART_CACHE", tempfile.mkdtemp(prefix="headstart-test-cache-"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
warnings.filterwarnings("ignore", message="The given NumPy array is not writable")


@pytest.fixture(scope="session")
def lite0():
    import headstart

    return headstart.load_source("efficientnet-lite0")


@pytest.fixture(scope="session")
def fashion():
    from headstart.data import load_dataset

    return load_dataset("fashion-mnist")


# The fast lane stays fast: a test not marked slow whose call takes over the limit (3 s, measured on
# the 2-core development machine; HEADSTART_FAST_LIMIT_S sets another, 0 turns the check off) fails the
# fast lane — `pytest -m "not slow"` over all of tests/, the README's command. Any other run (one file,
# `-k`, or `make test`'s everything, on CI's different machine) lists such tests and does not fail.
FAST_LIMIT_ENV = "HEADSTART_FAST_LIMIT_S"
_LIMIT = pytest.StashKey[float]()
_OVER = pytest.StashKey[dict[str, float]]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_LIMIT] = float(os.environ.get(FAST_LIMIT_ENV, "3"))  # read once: tests may change the environment
    config.stash[_OVER] = {}


def _is_the_fast_lane(config: pytest.Config) -> bool:
    return (config.option.markexpr.replace(" ", "") == "notslow" and not config.option.keyword
            and config.args_source == pytest.Config.ArgsSource.TESTPATHS)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = (yield).get_result()
    limit = item.config.stash[_LIMIT]
    if report.when == "call" and item.get_closest_marker("slow") is None and 0 < limit < report.duration:
        item.config.stash[_OVER][item.nodeid] = report.duration


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if session.config.stash[_OVER] and _is_the_fast_lane(session.config) and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    over = config.stash[_OVER]
    if not over:
        return
    verdict = "this fails the fast lane" if _is_the_fast_lane(config) else "not checked: not the whole fast lane"
    terminalreporter.section(f"tests not marked slow that took over {config.stash[_LIMIT]:g} s ({verdict})")
    for nodeid, seconds in sorted(over.items(), key=lambda item: -item[1]):
        terminalreporter.write_line(f"{seconds:6.2f}s {nodeid}")
    terminalreporter.write_line(f"mark them @pytest.mark.slow, make them faster, or set {FAST_LIMIT_ENV} "
                                "for a slower machine")
