"""LWLRAP, top-k, per-class P/R/F1 and confusion counts against hand-computed cases and scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest

from trainer.errors import TrainerError
from trainer.experiments import metrics


def test_lwlrap_hand_computed() -> None:
    # clip 0: true {0}; scores rank 2, 0, 1 -> label 0 at rank 2, one true label there: 1/2
    # clip 1: true {1, 2}; ranks: 2 first (1/1), 0 second, 1 third -> label 1 at rank 3, 2 true: 2/3
    truth = np.array([[1, 0, 0], [0, 1, 1]])
    scores = np.array([[0.5, 0.1, 0.9], [0.6, 0.2, 0.7]])
    per_class, weights = metrics.lwlrap_per_class(truth, scores)
    assert per_class[0] == pytest.approx(0.5)
    assert per_class[1] == pytest.approx(2 / 3)
    assert per_class[2] == pytest.approx(1.0)
    assert weights == pytest.approx([1 / 3, 1 / 3, 1 / 3])
    assert metrics.lwlrap(truth, scores) == pytest.approx((0.5 + 2 / 3 + 1.0) / 3)


def test_lwlrap_ties_count_against() -> None:
    truth = np.array([[1, 0, 0]])
    assert metrics.lwlrap(truth, np.array([[0.5, 0.5, 0.5]])) == pytest.approx(1 / 3)


def test_lwlrap_matches_sklearn_reference() -> None:
    from sklearn.metrics import label_ranking_average_precision_score

    rng = np.random.default_rng(3)
    truth = rng.random((60, 9)) < 0.2
    truth[np.arange(60), rng.integers(0, 9, 60)] = True  # every clip has a label
    scores = rng.random((60, 9))
    scores[rng.random((60, 9)) < 0.1] = 0.5  # some ties
    # LWLRAP = LRAP with each clip weighted by its number of true labels
    reference = label_ranking_average_precision_score(truth, scores, sample_weight=truth.sum(axis=1))
    assert metrics.lwlrap(truth, scores) == pytest.approx(reference, abs=1e-12)
    # and a wrong metric would not pass: the plain (clip-averaged) LRAP differs here
    assert abs(label_ranking_average_precision_score(truth, scores) - reference) > 1e-4


def test_lwlrap_refuses_bad_input() -> None:
    with pytest.raises(TrainerError, match="same"):
        metrics.lwlrap(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(TrainerError, match="no clip has a true label"):
        metrics.lwlrap(np.zeros((2, 3)), np.zeros((2, 3)))


def test_top_k_and_prf_and_confusion() -> None:
    truth = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0]], dtype=bool)
    scores = np.array([[0.9, 0.2, 0.1], [0.6, 0.5, 0.1], [0.1, 0.2, 0.3], [0.2, 0.3, 0.1]])
    assert metrics.top_k_accuracy(truth, scores, 1) == pytest.approx(0.5)
    assert metrics.top_k_accuracy(truth, scores, 2) == pytest.approx(1.0)
    rows = metrics.per_class_prf(truth, metrics.predicted_sets(scores, threshold=0.99), ["a", "b", "c"])
    a, b, c = rows
    assert (a["precision"], a["recall"]) == (pytest.approx(0.5), pytest.approx(0.5))  # predicted clips 0, 1
    assert (b["precision"], b["recall"]) == (pytest.approx(0.0), pytest.approx(0.0))  # predicted clip 3
    assert (c["precision"], c["recall"], c["f1"]) == (1.0, 1.0, 1.0)
    extremes = metrics.best_and_worst(rows, n=1)
    assert extremes["best"][0]["class"] == "c" and extremes["worst"][0]["class"] == "b"
    matrix = metrics.confusion(np.array([0, 1, 2, 0]), np.argmax(scores, axis=1), 3)
    assert matrix.tolist() == [[1, 1, 0], [1, 0, 0], [0, 0, 1]]
    summary = metrics.classification_summary(np.array([0, 1, 2, 0]), scores, ["a", "b", "c"])
    assert summary["top1"] == pytest.approx(0.5) and summary["clips"] == 4
