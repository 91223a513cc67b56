"""Visual (content-based) similarity from the target class's own training images.

It takes only the features the caller passes (the few training shots), never test images.
"""

from __future__ import annotations

import torch


def mean_softmax_matrix(features: torch.Tensor, labels: torch.Tensor, n_classes: int,
                        w_src: torch.Tensor, b_src: torch.Tensor) -> torch.Tensor:
    """The seed paper's visual similarity: the source model's mean softmax over each target class's
    images. features: [N, D]; labels: [N] in [0, n_classes); w_src: [C_src, D]; b_src: [C_src]
    -> [n_classes, C_src] (rows sum to 1; zero for a class without images)."""
    probs = torch.softmax(features.float() @ w_src.T + b_src, dim=1)
    sums = torch.zeros(n_classes, w_src.shape[0]).index_add_(0, labels, probs)
    return sums / torch.bincount(labels, minlength=n_classes).clamp_min(1)[:, None]

