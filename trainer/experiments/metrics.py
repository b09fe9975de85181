"""Classification and tagging metrics: LWLRAP, top-k accuracy, per-class precision/recall/F1, confusion."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from trainer.errors import TrainerError


def _check(truth: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    truth = np.asarray(truth).astype(bool)
    scores = np.asarray(scores, dtype=np.float64)
    if truth.ndim != 2 or truth.shape != scores.shape:
        raise TrainerError(
            f"metrics: truth {truth.shape} and scores {scores.shape}; expected the same (n_clips, n_classes)"
        )
    return truth, scores


def lwlrap_per_class(truth: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Label-weighted label-ranking average precision, per class, and each class's weight.

    For every (clip, true label) pair the precision at that label's rank is the share of true labels
    among the labels scored at least as high (ties count against, as scikit-learn's
    ``label_ranking_average_precision_score``). A class's value is the mean over its true pairs; its
    weight is its share of all true pairs (0 and NaN for a class that never occurs).

    Args:
        truth: ``(n_clips, n_classes)`` 0/1 or bool.
        scores: ``(n_clips, n_classes)`` real scores (higher = more likely).

    Returns:
        ``(per_class, weights)``: two ``(n_classes,)`` float arrays.
    """
    truth, scores = _check(truth, scores)
    n_classes = truth.shape[1]
    sums = np.zeros(n_classes)
    counts = np.zeros(n_classes)
    for row_truth, row_scores in zip(truth, scores, strict=True):
        positives = np.flatnonzero(row_truth)
        if len(positives) == 0:
            continue
        for label in positives:
            at_least = row_scores >= row_scores[label]
            rank = int(at_least.sum())
            hits = int((at_least & row_truth).sum())
            sums[label] += hits / rank
            counts[label] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    total = counts.sum()
    weights = counts / total if total else counts
    return per_class, weights


def lwlrap(truth: np.ndarray, scores: np.ndarray) -> float:
    """Label-weighted label-ranking average precision (the DCASE 2019 tagging metric), 0..1.

    Equals the mean, over every (clip, true label) pair, of the precision at that label's rank.

    Raises:
        TrainerError: shapes differ, or no clip has a true label.
    """
    per_class, weights = lwlrap_per_class(truth, scores)
    if not np.any(weights > 0):
        raise TrainerError("lwlrap: no clip has a true label")
    present = weights > 0
    return float(np.sum(per_class[present] * weights[present]))


def top_k_accuracy(truth: np.ndarray, scores: np.ndarray, k: int) -> float:
    """Share of clips with at least one true label among their ``k`` highest-scored labels."""
    truth, scores = _check(truth, scores)
    if k < 1:
        raise TrainerError(f"top_k_accuracy: k {k}; expected >= 1")
    k = min(k, scores.shape[1])
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    hit = np.take_along_axis(truth, top, axis=1).any(axis=1)
    return float(hit.mean()) if len(hit) else float("nan")


def predicted_sets(scores: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Predicted labels of each clip: its best-scored label plus every label scoring ``>= threshold``."""
    scores = np.asarray(scores, dtype=np.float64)
    out = scores >= threshold
    out[np.arange(len(scores)), np.argmax(scores, axis=1)] = True
    return out


def per_class_prf(truth: np.ndarray, predicted: np.ndarray, classes: Sequence[str]) -> list[dict[str, Any]]:
    """Precision, recall, F1 and support of each class from 0/1 truth and 0/1 predictions.

    A class never predicted has precision 0 (and F1 0); one with no true clip has recall NaN.
    """
    truth = np.asarray(truth).astype(bool)
    predicted = np.asarray(predicted).astype(bool)
    rows = []
    for c, name in enumerate(classes):
        tp = int(np.sum(truth[:, c] & predicted[:, c]))
        fp = int(np.sum(~truth[:, c] & predicted[:, c]))
        fn = int(np.sum(truth[:, c] & ~predicted[:, c]))
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else float("nan")
        f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
        rows.append({"class": name, "precision": precision, "recall": recall, "f1": f1, "support": tp + fn})
    return rows


def best_and_worst(rows: list[dict[str, Any]], n: int = 5, key: str = "f1") -> dict[str, list[dict]]:
    """The ``n`` classes with the highest and the lowest ``key`` (classes with test clips only)."""
    usable = [r for r in rows if r["support"] > 0]
    ordered = sorted(usable, key=lambda r: (-r[key], r["class"]))
    return {"best": ordered[:n], "worst": list(reversed(ordered[-n:]))}


def confusion(truth: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """``(n_classes, n_classes)`` counts, rows = true class, columns = predicted class."""
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(truth, np.int64), np.asarray(predicted, np.int64)), 1)
    return matrix


def classification_summary(
    truth: np.ndarray, scores: np.ndarray, classes: Sequence[str], threshold: float = 0.5
) -> dict[str, Any]:
    """Every figure of a tagging/classification test: LWLRAP, top-1, top-5, per-class P/R/F1, best/worst 5.

    Args:
        truth: ``(n, C)`` 0/1 (multi-label) or ``(n,)`` class indices (single-label).
        scores: ``(n, C)`` scores (sigmoid or softmax outputs).
        classes: class names.
        threshold: extra labels predicted at or above this score (see :func:`predicted_sets`).
    """
    scores = np.asarray(scores, dtype=np.float64)
    truth = np.asarray(truth)
    if truth.ndim == 1:
        onehot = np.zeros_like(scores, dtype=bool)
        onehot[np.arange(len(truth)), truth.astype(np.int64)] = True
        truth = onehot
    rows = per_class_prf(truth, predicted_sets(scores, threshold), classes)
    macro = [r["f1"] for r in rows if r["support"] > 0]
    return {
        "clips": int(len(scores)),
        "classes": len(classes),
        "lwlrap": lwlrap(truth, scores),
        "top1": top_k_accuracy(truth, scores, 1),
        "top5": top_k_accuracy(truth, scores, 5),
        "macro_f1": float(np.mean(macro)) if macro else float("nan"),
        "per_class": rows,
        **best_and_worst(rows),
    }
