"""Text embeddings: all-MiniLM-L6-v2 run in plain torch (``minilm``, loaded only when a text is not
cached yet) and the cached embeddings and cosine rows made with it (``embeddings``)."""

from headstart.text.embeddings import EMBEDDING_DIM, embed, embed_each, text_array

__all__ = ["EMBEDDING_DIM", "embed", "embed_each", "text_array"]
