"""Real and synthetic sets seen through one network: embeddings, a joint t-SNE map and the per-class moment
gaps that distribution matching minimises.

Distribution matching (DM, IDM, DSDM) compares the *features* of real and synthetic images under an
embedding network ψ (``net.embed``, the input of the last linear layer). This module looks at those features
after the fact:

* :func:`embed_sets` embeds several image sets with one network (no gradients, eval mode);
* :func:`tsne_2d` maps all of them to the plane with **one** t-SNE fit, so that points of different sets are
  drawn in the same coordinates;
* :func:`ltdd.book.viz.features.plot_real_vs_synthetic` (the figure, in the book's package) draws real
  features as faint dots and synthetic ones as large outlined markers, one panel per method, coloured by class
  (the shape of DSDM's Fig. 7);
* :func:`feature_statistics_gap` measures what a t-SNE picture can only suggest: per class, the squared
  distance between the real and synthetic prototypes (DM's and DSDM's first term) and the squared Frobenius
  distance between their covariances divided by the feature dimension (DSDM's second term, without its
  weight), averaged over the classes.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import Tensor, nn

from ._deprecated import forward
from .checks import positive_int
from .distill.dsdm import covariance_distance
from .markdown import markdown_table

DEFAULT_PERPLEXITY = 30.0
"""scikit-learn's default perplexity; :func:`tsne_2d` lowers it for small point sets."""
MIN_TSNE_POINTS = 4
"""The fewest points :func:`tsne_2d` maps: with ``n`` points the perplexity is capped at ``(n − 1) / 3``,
which is 1 (a single effective neighbour) at ``n = 4`` and meaningless below."""


# ------------------------------------------------------------------------------------------ embeddings
@torch.no_grad()
def embed_sets(net: nn.Module, sets: Mapping[str, Tensor], batch_size: int = 1024) -> dict[str, Tensor]:
    """``net.embed`` of every image set, ``{name: (n, d) features}``, batch by batch.

    The images must already be what the network expects (normalised like the dataset; for a partitioned
    synthetic set, its expanded parts, e.g. ``synthetic.training_pairs()[0]``). The network runs in eval
    mode without gradients; its previous mode is restored, also when a forward pass fails. Features stay on
    the network's device, as float tensors.

    Introduced in chapter 07.
    """
    if not hasattr(net, "embed"):
        raise ValueError(f"net must have an embed(x) method (an ltdd model), got {type(net).__name__}")
    positive_int("batch_size", batch_size)
    if not sets:
        raise ValueError("sets must map at least one name to a tensor of images")
    for name, images in sets.items():
        if not isinstance(images, Tensor) or images.ndim != 4 or len(images) == 0:
            shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
            raise ValueError(f"sets[{name!r}] must be a non-empty (N, C, H, W) tensor, got {shape}")
    device = next(net.parameters()).device
    was_training = net.training
    net.eval()
    try:
        return {name: torch.cat([net.embed(images[start:start + batch_size].to(device)).float()
                                 for start in range(0, len(images), batch_size)])
                for name, images in sets.items()}
    finally:
        net.train(was_training)


# ----------------------------------------------------------------------------------------------- t-SNE
def _as_matrix(name: str, features) -> np.ndarray:
    array = features.detach().float().cpu().numpy() if isinstance(features, Tensor) else np.asarray(features)
    if array.ndim != 2 or len(array) == 0:
        raise ValueError(f"features[{name!r}] must be a non-empty (n, d) array, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"features[{name!r}] contains NaN or infinite values")
    return array.astype(np.float64, copy=False)


def tsne_2d(features: Mapping[str, Tensor | np.ndarray], seed: int = 0,
            perplexity: float = DEFAULT_PERPLEXITY) -> dict[str, np.ndarray]:
    """Two-dimensional t-SNE coordinates of several feature sets, from **one** joint fit.

    All sets are stacked and embedded together (scikit-learn's ``TSNE`` with PCA initialisation and
    ``random_state=seed``, so the same inputs and seed give the same map), then split back:
    ``{name: (n_name, 2) array}``. Fitting the sets separately would give unrelated coordinate systems.

    t-SNE's perplexity is a soft number of neighbours and must be smaller than the number of points; it is
    lowered to ``(n − 1) / 3`` when the sets hold ``n`` points in all and that is smaller. Fewer than
    :data:`MIN_TSNE_POINTS` points raise ``ValueError``.

    Introduced in chapter 07.
    """
    from sklearn.manifold import TSNE

    if not features:
        raise ValueError("features must map at least one name to an (n, d) array")
    if not perplexity > 0:
        raise ValueError(f"perplexity must be > 0, got {perplexity!r}")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    matrices = {name: _as_matrix(name, value) for name, value in features.items()}
    dims = {name: m.shape[1] for name, m in matrices.items()}
    if len(set(dims.values())) > 1:
        raise ValueError(f"every feature set must have the same dimension, got {dims}")
    total = sum(len(m) for m in matrices.values())
    if total < MIN_TSNE_POINTS:
        raise ValueError(f"t-SNE needs at least {MIN_TSNE_POINTS} points in all, got {total}")
    perplexity = min(float(perplexity), (total - 1) / 3)
    stacked = np.concatenate(list(matrices.values()))
    points = TSNE(n_components=2, perplexity=perplexity, init="pca", learning_rate="auto",
                  random_state=seed).fit_transform(stacked)
    out, start = {}, 0
    for name, matrix in matrices.items():
        out[name] = points[start:start + len(matrix)]
        start += len(matrix)
    return out




# ------------------------------------------------------------------------------------------- moment gaps
def _labels_tensor(labels, n: int, name: str) -> Tensor:
    labels = torch.as_tensor(labels).detach().cpu()
    if labels.ndim == 2:  # soft labels: their argmax
        labels = labels.argmax(dim=1)
    if labels.ndim != 1 or len(labels) != n:
        raise ValueError(f"{name} must have shape ({n},), got {tuple(labels.shape)}")
    return labels.long()


def feature_statistics_gap(real_features: Tensor, real_labels: Tensor, syn_features: Tensor, syn_labels: Tensor,
                           num_classes: int) -> dict:
    """How far the synthetic features' first two moments are from the real ones, per class and on average.

    For every class ``c``, with ``d`` the feature dimension:

    * ``mean_gap``: ``‖μ^r_c − μ^s_c‖²``, the distance DM and DSDM minimise;
    * ``cov_gap``: ``‖Σ^r_c − Σ^s_c‖²_F / d`` (:func:`ltdd.distill.dsdm.covariance_distance`, sample
      covariance, zero for a single sample), DSDM's covariance term without its weight.

    Returns ``{"mean_gap", "cov_gap"}`` (averages over the classes) and ``{"per_class_mean_gap",
    "per_class_cov_gap"}`` (lists of length ``num_classes``). Computed in float64; both gaps are zero for
    identical sets. Every class needs at least one real and one synthetic feature.

    Introduced in chapter 07.
    """
    positive_int("num_classes", num_classes)
    feats = {}
    for name, value in (("real_features", real_features), ("syn_features", syn_features)):
        value = torch.as_tensor(value).detach().cpu().double()
        if value.ndim != 2 or len(value) == 0:
            raise ValueError(f"{name} must be a non-empty (n, d) tensor, got shape {tuple(value.shape)}")
        feats[name] = value
    real, syn = feats["real_features"], feats["syn_features"]
    if real.shape[1] != syn.shape[1]:
        raise ValueError(f"real_features have dimension {real.shape[1]}, syn_features {syn.shape[1]}")
    real_y = _labels_tensor(real_labels, len(real), "real_labels")
    syn_y = _labels_tensor(syn_labels, len(syn), "syn_labels")
    d = real.shape[1]
    mean_gaps, cov_gaps = [], []
    for c in range(num_classes):
        r, s = real[real_y == c], syn[syn_y == c]
        if len(r) == 0 or len(s) == 0:
            side = "real" if len(r) == 0 else "synthetic"
            raise ValueError(f"class {c} has no {side} features; every class in range(num_classes) needs both")
        mean_gaps.append(float((r.mean(dim=0) - s.mean(dim=0)).pow(2).sum()))
        # the Gram form can round a tiny positive number to a tiny negative one
        cov_gaps.append(max(0.0, float(covariance_distance(r, s))) / d)
    return {"mean_gap": sum(mean_gaps) / num_classes, "cov_gap": sum(cov_gaps) / num_classes,
            "per_class_mean_gap": mean_gaps, "per_class_cov_gap": cov_gaps}


def feature_gap_table(gaps: Mapping[str, Mapping[str, float]], digits: int = 3) -> str:
    """A markdown table of :func:`feature_statistics_gap` results, one row per set (e.g. per method).

    Introduced in chapter 07."""
    if not gaps:
        raise ValueError("gaps must map at least one name to a feature_statistics_gap result")
    header = ["synthetic set", "mean gap ‖μ_r − μ_s‖²", "covariance gap ‖Σ_r − Σ_s‖²_F / d"]
    rows = [[name, f"{gap['mean_gap']:.{digits}g}", f"{gap['cov_gap']:.{digits}g}"] for name, gap in gaps.items()]
    return markdown_table(header, rows, align="lrr")

__getattr__ = forward(__name__, {"plot_real_vs_synthetic": "ltdd.book.viz.features:plot_real_vs_synthetic"})
