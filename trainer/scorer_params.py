"""Fitted scikit-learn scorers -> the numpy parameters a `.sig` file stores (`detector.signatures` format).

The functions read fitted models' attributes only (duck-typed: no scikit-learn or detector import here).
Their output goes into ``SignatureData.params`` (or ``SignatureData.calibration``); the detector's numpy
scorers then reproduce the model's ``decision_function`` / ``score_samples`` to float64 rounding.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_TREE_LEAF = -1  # scikit-learn's child index of a leaf


def prototype_params(prototypes: Any) -> dict[str, np.ndarray]:
    """Params of a ``prototype`` signature: the prototypes as L2-normalised float32 rows.

    Args:
        prototypes: ``(k, d)`` (or one ``(d,)``) vectors, e.g. the mean embedding of each enrollment clip.

    Raises:
        ValueError: Not 1-D/2-D, empty, not finite, or a zero vector.
    """
    p = np.asarray(prototypes, dtype=np.float64)
    if p.ndim == 1:
        p = p[None, :]
    if p.ndim != 2 or p.size == 0 or not np.all(np.isfinite(p)):
        raise ValueError(f"prototypes: shape {list(p.shape)}; expected finite (k, d) vectors")
    norms = np.linalg.norm(p, axis=1, keepdims=True)
    if np.any(norms <= 1e-12):
        raise ValueError("prototypes: a zero vector cannot be a prototype")
    return {"prototypes": (p / norms).astype(np.float32)}


def ocsvm_params(model: Any) -> dict[str, Any]:
    """Params of an ``ocsvm`` signature from a fitted ``sklearn.svm.OneClassSVM`` with an RBF kernel.

    Args:
        model: The fitted one-class SVM.

    Returns:
        ``support_vectors`` float64 (m, d), ``dual_coef`` float64 (m,), ``gamma`` (the resolved value,
        also for ``gamma="scale"``), ``offset`` (``model.offset_``).

    Raises:
        ValueError: The kernel is not ``rbf``.
    """
    if model.kernel != "rbf":
        raise ValueError(f"kernel: got {model.kernel!r}; a signature's OC-SVM needs kernel='rbf'")
    gamma = getattr(model, "_gamma", model.gamma)  # _gamma: the value "scale"/"auto" resolved to at fit
    return {
        "support_vectors": np.asarray(model.support_vectors_, dtype=np.float64),
        "dual_coef": np.asarray(model.dual_coef_, dtype=np.float64).ravel(),
        "gamma": float(gamma),
        "offset": float(np.ravel(model.offset_)[0]),
    }


def gmm_params(model: Any) -> dict[str, np.ndarray]:
    """Params of a ``gmm`` signature from a fitted ``sklearn.mixture.GaussianMixture``.

    Fit it on float64 data (``embeddings.astype(np.float64)``): on float32 data scikit-learn keeps float32
    parameters and computes ``score_samples`` in float32, ~1e-4 away from the detector's float64 numbers.

    Args:
        model: Fitted with ``covariance_type="spherical"`` (the documented format: (k,) variances) or
            ``"diag"`` ((k, d) variances, also accepted by the detector).

    Returns:
        ``weights`` (k,), ``means`` (k, d), ``covariances``, all float64.

    Raises:
        ValueError: Another covariance type.
    """
    if model.covariance_type not in ("spherical", "diag"):
        raise ValueError(
            f"covariance_type: got {model.covariance_type!r}; a signature's GMM needs 'spherical' (or 'diag')"
        )
    return {
        "weights": np.asarray(model.weights_, dtype=np.float64),
        "means": np.asarray(model.means_, dtype=np.float64),
        "covariances": np.asarray(model.covariances_, dtype=np.float64),
    }


def iforest_params(model: Any) -> dict[str, Any]:
    """Params of an ``iforest`` signature from a fitted ``sklearn.ensemble.IsolationForest``.

    The trees are concatenated: tree ``i`` owns nodes ``node_offset[i]:node_offset[i + 1]`` of ``left``,
    ``right`` (tree-local child indices, -1 at leaves), ``feature`` (already mapped through the tree's
    feature subset, so it indexes the embedding), ``threshold`` and ``n_node_samples``.

    Args:
        model: The fitted isolation forest.

    Returns:
        The arrays above (int32, threshold float64), ``max_samples`` and ``offset`` (``model.offset_``).
    """
    lefts, rights, features, thresholds, counts, sizes = [], [], [], [], [], []
    for estimator, subset in zip(model.estimators_, model.estimators_features_, strict=True):
        tree = estimator.tree_
        left = np.asarray(tree.children_left)
        inner = left != _TREE_LEAF
        feature = np.where(inner, np.asarray(subset)[np.where(inner, tree.feature, 0)], -2)
        lefts.append(left)
        rights.append(np.asarray(tree.children_right))
        features.append(feature)
        thresholds.append(np.asarray(tree.threshold, dtype=np.float64))
        counts.append(np.asarray(tree.n_node_samples))
        sizes.append(tree.node_count)
    max_samples = getattr(model, "_max_samples", None) or model.max_samples_
    return {
        "node_offset": np.concatenate([[0], np.cumsum(sizes)]).astype(np.int32),
        "left": np.concatenate(lefts).astype(np.int32),
        "right": np.concatenate(rights).astype(np.int32),
        "feature": np.concatenate(features).astype(np.int32),
        "threshold": np.concatenate(thresholds),
        "n_node_samples": np.concatenate(counts).astype(np.int32),
        "max_samples": int(max_samples),
        "offset": float(model.offset_),
    }


def isotonic_calibration(model: Any) -> dict[str, Any]:
    """A signature's ``isotonic`` calibration from a fitted ``sklearn.isotonic.IsotonicRegression``.

    The detector interpolates linearly and clips at the ends, as ``IsotonicRegression(out_of_bounds="clip")``
    predicts. Fit it increasing, on 0/1 targets (target vs not), so the table maps raw -> [0, 1].

    Args:
        model: The fitted isotonic regression.

    Returns:
        ``{"kind": "isotonic", "x": float64 (n,), "y": float64 (n,)}``.

    Raises:
        ValueError: Fitted decreasing, or its outputs leave [0, 1].
    """
    x = np.asarray(model.X_thresholds_, dtype=np.float64)
    y = np.asarray(model.y_thresholds_, dtype=np.float64)
    if not getattr(model, "increasing_", True):
        raise ValueError("isotonic regression fitted decreasing; expected increasing (higher raw = target)")
    if y.size and (y.min() < 0 or y.max() > 1):
        raise ValueError(
            f"isotonic outputs span [{y.min()}, {y.max()}]; expected [0, 1] (fit on 0/1 targets)"
        )
    return {"kind": "isotonic", "x": x, "y": y}
