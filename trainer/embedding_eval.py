"""How well an embedding separates classes it never saw: window AUCs against background, few-shot accuracy."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

EmbedFn = Callable[[np.ndarray], np.ndarray]  # patches (n, frames, bands) -> embeddings (n, dim)


def roc_auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """Area under the ROC curve: P(score of a positive > score of a negative), ties counting half."""
    positive = np.asarray(positive, dtype=np.float64).ravel()
    negative = np.asarray(negative, dtype=np.float64).ravel()
    if len(positive) == 0 or len(negative) == 0:
        raise ValueError(f"AUC needs positives and negatives, got {len(positive)} and {len(negative)}")
    scores = np.concatenate([positive, negative])
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    sorted_scores = scores[order]
    # average ranks over ties
    boundaries = np.flatnonzero(np.diff(sorted_scores)) + 1
    starts = np.concatenate([[0], boundaries])
    ends = np.concatenate([boundaries, [len(scores)]])
    for s, e in zip(starts, ends, strict=True):
        if e - s > 1:
            ranks[order[s:e]] = (s + 1 + e) / 2.0
    u = ranks[: len(positive)].sum() - len(positive) * (len(positive) + 1) / 2.0
    return float(u / (len(positive) * len(negative)))


def unit(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm."""
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


@dataclass(frozen=True)
class SeparationReport:
    """Embedding quality on held-out classes (every figure in [0, 1])."""

    classes: int
    shots: int
    target_vs_background_auc: float  # per-class window AUC (prototype cosine), averaged over classes
    target_vs_background_auc_min: float  # the worst class
    same_vs_different_auc: float  # clip-pair cosine: same class vs different class
    few_shot_accuracy: float  # nearest prototype among all held-out classes, per query clip
    target_windows: int
    background_windows: int

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def separation(
    embed: EmbedFn,
    clips_by_class: Mapping[str, Sequence[np.ndarray]],
    background_patches: np.ndarray,
    *,
    shots: int = 3,
    seed: int = 0,
) -> SeparationReport:
    """Measure an embedding on classes it was not trained on.

    Args:
        embed: patches -> embeddings.
        clips_by_class: for each held-out class, its clips as patch arrays ``(n_patches, frames, bands)``
            (the windows where the sound is, already mixed into noisy backgrounds as they would be heard).
        background_patches: windows of background alone ``(n, frames, bands)``.
        shots: clips per class that make its prototype (the rest are queries).
        seed: which clips become the shots.

    For each class the prototype is the normalised mean embedding of the shots' windows; its target
    windows are the other clips' windows. Classes with fewer than ``shots + 1`` clips are skipped.
    """
    rng = np.random.default_rng(seed)
    background = unit(embed(background_patches))
    prototypes: dict[str, np.ndarray] = {}
    queries: dict[str, list[np.ndarray]] = {}
    for label, clips in clips_by_class.items():
        if len(clips) < shots + 1:
            continue
        order = rng.permutation(len(clips))
        shot_windows = np.concatenate([clips[i] for i in order[:shots]])
        prototypes[label] = unit(unit(embed(shot_windows)).mean(axis=0))
        queries[label] = [unit(embed(clips[i])) for i in order[shots:]]
    if len(prototypes) < 2:
        raise ValueError(f"need >= 2 classes with >= {shots + 1} clips each, got {len(prototypes)}")

    labels = sorted(prototypes)
    proto_matrix = np.stack([prototypes[label] for label in labels])
    window_aucs, target_windows, correct, total = [], 0, 0, 0
    clip_vectors, clip_labels = [], []
    for index, label in enumerate(labels):
        target = np.concatenate(queries[label])
        target_windows += len(target)
        window_aucs.append(roc_auc(target @ prototypes[label], background @ prototypes[label]))
        for windows in queries[label]:
            vector = unit(windows.mean(axis=0))
            clip_vectors.append(vector)
            clip_labels.append(index)
            correct += int(np.argmax(proto_matrix @ vector) == index)
            total += 1
    vectors = np.stack(clip_vectors)
    similarity = vectors @ vectors.T
    same = np.equal.outer(clip_labels, clip_labels)
    upper = np.triu(np.ones_like(same), k=1)
    return SeparationReport(
        classes=len(labels),
        shots=shots,
        target_vs_background_auc=float(np.mean(window_aucs)),
        target_vs_background_auc_min=float(np.min(window_aucs)),
        same_vs_different_auc=roc_auc(similarity[same & upper], similarity[~same & upper]),
        few_shot_accuracy=correct / total,
        target_windows=target_windows,
        background_windows=len(background),
    )
