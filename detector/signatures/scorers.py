"""Signature scorers in numpy: prototype (cosine), OC-SVM, GMM and isolation forest over embeddings.

Each scorer's ``raw(embeddings)`` takes float32 ``(n, d)`` embeddings from the shared embedding model and
returns float64 ``(n,)`` where higher means more like the target. The numbers equal scikit-learn's for
the model the parameters were exported from (``trainer.scorer_params``), without scikit-learn:

- ``prototype``: the largest cosine similarity to the prototypes;
- ``ocsvm``: ``OneClassSVM.decision_function`` (RBF kernel);
- ``gmm``: ``GaussianMixture.score_samples`` (spherical or diagonal covariances);
- ``iforest``: ``IsolationForest.decision_function``.

A ``binary`` signature has no scorer here: it runs its own TFLite head on the feature patches
(see ``detector.signatures.signature.Signature.score_patches``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np

from detector.jit import jit

SCORER_KINDS = ("prototype", "ocsvm", "gmm", "iforest", "binary")
EMBEDDING_SCORERS = ("prototype", "ocsvm", "gmm", "iforest")
_CHUNK_ELEMENTS = 1 << 20  # largest (rows x columns) intermediate array a scorer builds at once
_LEAF = -1  # scikit-learn's TREE_LEAF: the child index of a leaf


class Scorer(Protocol):
    """What every embedding scorer offers."""

    kind: str
    dim: int | None  # embedding dimension it expects (None: any, up to ``min_dim``)
    min_dim: int  # smallest embedding dimension it can score

    def raw(self, embeddings: np.ndarray) -> np.ndarray:
        """float64 ``(n,)``: higher = more like the target."""
        ...


# ---------------------------------------------------------------------------------------------- helpers
def _array(params: Mapping[str, Any], key: str, kind: str, ndim: int | tuple[int, ...]) -> np.ndarray:
    """``params[key]`` as a finite float64 or int64 array of the given number of dimensions."""
    value = params[key]
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):
        raise ValueError(f"{key}: got {type(value).__name__}; expected an array") from None
    ndims = (ndim,) if isinstance(ndim, int) else ndim
    if arr.ndim not in ndims:
        wanted = " or ".join(f"{n}-D" for n in ndims)
        raise ValueError(f"{key}: shape {list(arr.shape)}; expected a {wanted} array")
    if kind == "float":
        if arr.dtype.kind not in "fiu" or arr.dtype == np.bool_:
            raise ValueError(f"{key}: dtype {arr.dtype}; expected floating-point numbers")
        arr = arr.astype(np.float64)
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{key}: has NaN or infinite values; expected finite numbers")
    else:
        if arr.dtype.kind not in "iu":
            raise ValueError(f"{key}: dtype {arr.dtype}; expected integers")
        arr = arr.astype(np.int64)
    if arr.size == 0:
        raise ValueError(f"{key}: shape {list(arr.shape)}; expected a non-empty array")
    arr.setflags(write=False)
    return arr


def _number(params: Mapping[str, Any], key: str) -> float:
    value = params[key]
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f"{key}: got {value!r}; expected a number")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{key}: got {number!r}; expected a finite number")
    return number


def _integer(params: Mapping[str, Any], key: str) -> int:
    value = params[key]
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{key}: got {value!r}; expected an integer")
    return int(value)


def _check_keys(kind: str, params: Mapping[str, Any], keys: tuple[str, ...]) -> None:
    if not isinstance(params, Mapping):
        raise ValueError(f"got {type(params).__name__}; expected an object with keys {', '.join(keys)}")
    if set(params) != set(keys):
        missing = sorted(set(keys) - set(params))
        unknown = sorted(set(map(str, params)) - set(keys))
        parts = [
            f"missing {', '.join(missing)}" if missing else "",
            f"unknown {', '.join(unknown)}" if unknown else "",
        ]
        raise ValueError(
            f"{'; '.join(p for p in parts if p)}; a {kind} signature has exactly {', '.join(keys)}"
        )


def embeddings_matrix(embeddings: np.ndarray, dim: int | None, min_dim: int = 1) -> np.ndarray:
    """``embeddings`` as a 2-D array, checked against the scorer's dimension.

    Raises:
        ValueError: Not ``(n, dim)`` (a single ``(dim,)`` vector is taken as ``n = 1``).
    """
    x = np.asarray(embeddings)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or (dim is not None and x.shape[1] != dim) or x.shape[1] < min_dim:
        wanted = dim if dim is not None else f">= {min_dim}"
        raise ValueError(f"embeddings of shape {list(np.shape(embeddings))}; expected (n, {wanted})")
    return x


def _row_chunks(n: int, columns: int) -> list[slice]:
    """Row slices of at most ``_CHUNK_ELEMENTS / columns`` rows covering ``range(n)``."""
    step = max(1, _CHUNK_ELEMENTS // max(1, columns))
    return [slice(start, min(start + step, n)) for start in range(0, n, step)]


def _squared_distances(x: np.ndarray, centres: np.ndarray, centre_sq: np.ndarray) -> np.ndarray:
    """``||x_i - c_j||^2`` (n, k) in float64, never negative."""
    d2 = np.einsum("ij,ij->i", x, x)[:, None] + centre_sq[None, :] - 2.0 * (x @ centres.T)
    return np.maximum(d2, 0.0, out=d2)


@jit(nogil=True)
def _forest_path_lengths(x, roots, left, right, feature, threshold, inner, leaf_value):  # pragma: no cover
    """Sum over the trees of each row's path length (leaf depth + its c(n)), walking node by node."""
    out = np.zeros(x.shape[0])
    for i in range(x.shape[0]):
        total = 0.0
        for root in roots:
            node = root
            while inner[node]:
                node = left[node] if np.float64(x[i, feature[node]]) <= threshold[node] else right[node]
            total += leaf_value[node]
        out[i] = total
    return out


def average_path_length(n_samples: np.ndarray) -> np.ndarray:
    """c(n): the average path length of an unsuccessful search in a binary search tree of n points.

    The isolation forest correction, with scikit-learn's rule: ``c(n) = 0`` for ``n <= 1``, ``1`` for
    ``n == 2``, else ``2 (ln(n - 1) + euler_gamma) - 2 (n - 1) / n``.
    """
    n = np.asarray(n_samples, dtype=np.float64)
    out = np.zeros(n.shape, dtype=np.float64)
    out[n == 2] = 1.0
    big = n > 2
    nb = n[big]
    out[big] = 2.0 * (np.log(nb - 1.0) + np.euler_gamma) - 2.0 * (nb - 1.0) / nb
    return out


# ---------------------------------------------------------------------------------------------- scorers
class PrototypeScorer:
    """Largest cosine similarity between the (L2-normalised) embedding and the target's prototypes."""

    kind = "prototype"
    KEYS = ("prototypes",)

    def __init__(self, params: Mapping[str, Any]) -> None:
        """Build from parameters.

        Args:
            params: ``prototypes`` float ``(k, d)`` (normalised here if they are not unit vectors).

        Raises:
            ValueError: Bad shape or values, or a zero prototype.
        """
        _check_keys(self.kind, params, self.KEYS)
        protos = _array(params, "prototypes", "float", 2)
        norms = np.linalg.norm(protos, axis=1)
        if np.any(norms <= 1e-12):
            raise ValueError("prototypes: a prototype has zero length; expected unit vectors")
        self.prototypes = protos / norms[:, None]
        self.dim: int | None = protos.shape[1]
        self.min_dim = protos.shape[1]

    def raw(self, embeddings: np.ndarray) -> np.ndarray:
        """Max cosine similarity in [-1, 1], float64 ``(n,)``."""
        x = embeddings_matrix(embeddings, self.dim).astype(np.float64)
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        x = x / np.maximum(norms, 1e-12)
        return np.max(x @ self.prototypes.T, axis=1)


class OcsvmScorer:
    """One-class SVM with an RBF kernel: ``sum_i dual_coef_i exp(-gamma ||x - sv_i||^2) - offset``."""

    kind = "ocsvm"
    KEYS = ("support_vectors", "dual_coef", "gamma", "offset")

    def __init__(self, params: Mapping[str, Any]) -> None:
        """Build from parameters.

        Args:
            params: ``support_vectors`` (m, d), ``dual_coef`` (m,), ``gamma`` > 0 and ``offset``
                (scikit-learn's ``offset_``, i.e. libsvm's ``rho``).

        Raises:
            ValueError: Bad shapes or values.
        """
        _check_keys(self.kind, params, self.KEYS)
        self.support_vectors = _array(params, "support_vectors", "float", 2)
        self.dual_coef = _array(params, "dual_coef", "float", 1)
        if self.dual_coef.shape[0] != self.support_vectors.shape[0]:
            raise ValueError(
                f"dual_coef: {self.dual_coef.shape[0]} coefficients for {self.support_vectors.shape[0]} "
                "support vectors; expected one per support vector"
            )
        self.gamma = _number(params, "gamma")
        if self.gamma <= 0:
            raise ValueError(f"gamma: got {self.gamma!r}; expected > 0")
        self.offset = _number(params, "offset")
        self._sv_sq = np.einsum("ij,ij->i", self.support_vectors, self.support_vectors)
        self.dim: int | None = self.support_vectors.shape[1]
        self.min_dim = self.support_vectors.shape[1]

    def raw(self, embeddings: np.ndarray) -> np.ndarray:
        """scikit-learn's ``OneClassSVM.decision_function``, float64 ``(n,)``."""
        x = embeddings_matrix(embeddings, self.dim).astype(np.float64)
        out = np.empty(len(x), dtype=np.float64)
        for rows in _row_chunks(len(x), len(self.support_vectors)):
            k = _squared_distances(x[rows], self.support_vectors, self._sv_sq)
            np.exp(-self.gamma * k, out=k)
            out[rows] = k @ self.dual_coef
        return out - self.offset


class GmmScorer:
    """Gaussian mixture log-likelihood (spherical or diagonal covariances), computed with logsumexp."""

    kind = "gmm"
    KEYS = ("weights", "means", "covariances")

    def __init__(self, params: Mapping[str, Any]) -> None:
        """Build from parameters.

        Args:
            params: ``weights`` (k,) > 0 summing to 1, ``means`` (k, d), ``covariances`` (k,) spherical
                variances (or (k, d) diagonal variances), all > 0.

        Raises:
            ValueError: Bad shapes or values.
        """
        _check_keys(self.kind, params, self.KEYS)
        weights = _array(params, "weights", "float", 1)
        means = _array(params, "means", "float", 2)
        cov = _array(params, "covariances", "float", (1, 2))
        k, d = means.shape
        if weights.shape != (k,):
            raise ValueError(f"weights: shape {list(weights.shape)}; expected [{k}] (one per mean)")
        if cov.shape not in ((k,), (k, d)):
            raise ValueError(
                f"covariances: shape {list(cov.shape)}; expected [{k}] (spherical) or [{k}, {d}] (diagonal)"
            )
        if np.any(weights <= 0) or abs(float(weights.sum()) - 1.0) > 1e-6:
            raise ValueError(f"weights: sum {float(weights.sum())!r}; expected positive weights summing to 1")
        if np.any(cov <= 0):
            raise ValueError("covariances: a variance <= 0; expected positive variances")
        self.weights, self.means, self.covariances = weights, means, cov
        self.dim: int | None = d
        self.min_dim = d
        precision = 1.0 / cov  # (k,) or (k, d)
        if cov.ndim == 1:
            log_det = -0.5 * d * np.log(cov)  # log |Sigma|^(-1/2)
            self._scaled_means = means * np.sqrt(precision)[:, None]
            self._col_scale = None
            self._precision = precision
        else:
            log_det = -0.5 * np.sum(np.log(cov), axis=1)
            self._scaled_means = means * np.sqrt(precision)
            self._col_scale = np.sqrt(precision)  # (k, d): per component, x scales differently
            self._precision = precision
        self._const = np.log(weights) + log_det - 0.5 * d * math.log(2.0 * math.pi)

    def _mahalanobis(self, x: np.ndarray) -> np.ndarray:
        if self._col_scale is None:  # spherical: ||x - mu_k||^2 / var_k
            mu_sq = np.einsum("ij,ij->i", self.means, self.means)
            return _squared_distances(x, self.means, mu_sq) * self._precision[None, :]
        p = self._precision  # diagonal: sum_j (x_j - mu_kj)^2 / var_kj
        d2 = (x * x) @ p.T - 2.0 * x @ (self.means * p).T + np.sum(self.means**2 * p, axis=1)[None, :]
        return np.maximum(d2, 0.0, out=d2)

    def raw(self, embeddings: np.ndarray) -> np.ndarray:
        """scikit-learn's ``GaussianMixture.score_samples`` (per-sample log-likelihood), float64 ``(n,)``."""
        x = embeddings_matrix(embeddings, self.dim).astype(np.float64)
        out = np.empty(len(x), dtype=np.float64)
        for rows in _row_chunks(len(x), len(self.means)):
            log_prob = self._const[None, :] - 0.5 * self._mahalanobis(x[rows])
            top = np.max(log_prob, axis=1)
            out[rows] = top + np.log(np.sum(np.exp(log_prob - top[:, None]), axis=1))
        return out


class IforestScorer:
    """Isolation forest: ``score_samples - offset`` with ``score_samples = -2^(-E[h(x)] / c(max_samples))``.

    The trees are flat arrays (scikit-learn's ``tree_`` layout, one block per tree); all samples walk all
    trees at once, one level per step, so a call costs about (tree depth) numpy operations.
    """

    kind = "iforest"
    KEYS = ("node_offset", "left", "right", "feature", "threshold", "n_node_samples", "max_samples", "offset")

    def __init__(self, params: Mapping[str, Any]) -> None:
        """Build from parameters.

        Args:
            params: ``node_offset`` (t + 1,): tree i's nodes are ``node_offset[i]:node_offset[i + 1]``;
                per node ``left``, ``right`` (tree-local child indices, -1 at leaves), ``feature``
                (embedding index, ignored at leaves), ``threshold`` (go left when ``x[feature] <=
                threshold``), ``n_node_samples``; ``max_samples`` (samples per tree) and ``offset``
                (scikit-learn's ``offset_``).

        Raises:
            ValueError: Bad shapes or values, or arrays that do not form trees.
        """
        _check_keys(self.kind, params, self.KEYS)
        node_offset = _array(params, "node_offset", "int", 1)
        left = _array(params, "left", "int", 1)
        right = _array(params, "right", "int", 1)
        feature = _array(params, "feature", "int", 1)
        threshold = _array(params, "threshold", "float", 1)
        n_node = _array(params, "n_node_samples", "int", 1)
        self.max_samples = _integer(params, "max_samples")
        self.offset = _number(params, "offset")
        if self.max_samples < 1:
            raise ValueError(f"max_samples: got {self.max_samples}; expected >= 1")
        total = left.shape[0]
        for key, arr in (
            ("right", right),
            ("feature", feature),
            ("threshold", threshold),
            ("n_node_samples", n_node),
        ):
            if arr.shape[0] != total:
                raise ValueError(f"{key}: {arr.shape[0]} nodes; expected {total} (as left)")
        if node_offset.shape[0] < 2 or node_offset[0] != 0 or node_offset[-1] != total:
            raise ValueError(
                f"node_offset: expected [0, ..., {total}] (t + 1 increasing tree starts, last = node count)"
            )
        sizes = np.diff(node_offset)
        if np.any(sizes < 1):
            raise ValueError("node_offset: not strictly increasing; expected at least one node per tree")
        n_trees = sizes.shape[0]
        tree_of = np.repeat(np.arange(n_trees), sizes)
        local = np.arange(total) - node_offset[tree_of]
        size_of = sizes[tree_of]
        leaf = left == _LEAF
        if np.any(leaf != (right == _LEAF)):
            raise ValueError("left/right: a node has one child; expected both -1 (leaf) or both >= 0")
        inner = ~leaf
        for key, child in (("left", left), ("right", right)):
            if np.any(inner & ((child <= local) | (child >= size_of))):
                raise ValueError(
                    f"{key}: a child index outside its tree or not after its parent; expected tree-local "
                    "indices as scikit-learn stores them"
                )
        if np.any(inner & (feature < 0)):
            raise ValueError("feature: a split on a negative feature index; expected >= 0")
        if np.any(n_node < 1):
            raise ValueError("n_node_samples: a node with no samples; expected >= 1")
        roots = node_offset[:-1]
        self.n_trees = n_trees
        self.min_dim = int(feature[inner].max()) + 1 if inner.any() else 1
        self.dim: int | None = None
        # global child indices; a leaf points to itself so walking further changes nothing
        idx = np.arange(total)
        g_left = np.where(inner, left + node_offset[tree_of], idx)
        g_right = np.where(inner, right + node_offset[tree_of], idx)
        depth = np.full(total, -1, dtype=np.int64)
        depth[roots] = 0
        frontier = roots
        while frontier.size:  # breadth first over all trees; children come after parents, so it ends
            parents = frontier[inner[frontier]]
            children = np.concatenate([g_left[parents], g_right[parents]])
            if np.any(depth[children] >= 0) or np.unique(children).size != children.size:
                raise ValueError("left/right: a node with two parents; expected trees")
            depth[children] = np.concatenate([depth[parents], depth[parents]]) + 1
            frontier = children
        if np.any(depth < 0):
            raise ValueError("left/right: nodes unreachable from their tree's root; expected trees")
        self._roots = roots
        self._left, self._right = g_left, g_right
        self._feature = np.where(inner, feature, 0)
        self._threshold = threshold
        self._inner = inner
        # path length of a sample ending in a leaf: its depth + c(samples the leaf held at fit time)
        self._leaf_value = depth + average_path_length(n_node)
        self._walk = tuple(  # the tree walk's arrays, typed once
            np.ascontiguousarray(a, dtype=t)
            for a, t in (
                (roots, np.int64),
                (g_left, np.int64),
                (g_right, np.int64),
                (self._feature, np.int64),
                (threshold, np.float64),
                (inner, np.bool_),
                (self._leaf_value, np.float64),
            )
        )
        self._norm = n_trees * float(average_path_length(np.array([self.max_samples]))[0])

    def score_samples(self, embeddings: np.ndarray) -> np.ndarray:
        """scikit-learn's ``IsolationForest.score_samples`` (in [-1, 0]; lower = more abnormal)."""
        x = embeddings_matrix(embeddings, None, self.min_dim).astype(
            np.float32
        )  # sklearn splits float32 data
        depths = _forest_path_lengths(np.ascontiguousarray(x), *self._walk)
        ratio = depths / self._norm if self._norm != 0 else np.ones_like(depths)
        return -np.exp2(-ratio)

    def raw(self, embeddings: np.ndarray) -> np.ndarray:
        """scikit-learn's ``IsolationForest.decision_function`` (``score_samples - offset``), ``(n,)``."""
        return self.score_samples(embeddings) - self.offset


_SCORERS: dict[str, type] = {
    "prototype": PrototypeScorer,
    "ocsvm": OcsvmScorer,
    "gmm": GmmScorer,
    "iforest": IforestScorer,
}
BINARY_KEYS = ("model_file", "model_file_sha256")


def make_scorer(kind: str, params: Mapping[str, Any]) -> Scorer:
    """The scorer of ``kind`` built from its parameters.

    Args:
        kind: ``prototype``, ``ocsvm``, ``gmm`` or ``iforest`` (``binary`` has no embedding scorer).
        params: The scorer's parameters (see each class).

    Raises:
        ValueError: Unknown kind, or bad parameters (the message names the key and what was expected).
    """
    if kind not in _SCORERS:
        raise ValueError(f"scorer: got {kind!r}; expected one of {', '.join(EMBEDDING_SCORERS)}")
    return _SCORERS[kind](params)
