import os
from pathlib import Path
import tempfile
import warnings

import pytest

# One cache per test session (features, WordNet copy, text embeddings): tests never touch the
# user's cache, and later tests reuse what earlier ones computed.
os.environ.setdefault("HEADSTART_CACHE", tempfile.mkdtemp(prefix="headstart-test-cache-"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
warnings.filterwarnings("ignore", message="The given NumPy array is not writable")


# The real-photo folders live beside the checkout (../shared/datasets, as on CI); a checkout
# without them skips the tests that read them, saying why, instead of failing on a missing path.
SHARED_DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def shared_dataset(name: str) -> Path:
    folder = SHARED_DATASETS / name
    if not folder.is_dir():
        pytest.skip(f"{folder} is not here (the shared datasets sit beside the checkout on CI)")
    return folder


@pytest.fixture(scope="session")
def lite0():
    import headstart

    return headstart.load_source("efficientnet-lite0")


@pytest.fixture(scope="session")
def fashion():
    from headstart.data import load_dataset

    return load_dataset("fashion-mnist")
