import os
import tempfile
import warnings

import pytest

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
