"""The held-out separation measures: AUC against a reference, and reports on embeddings of known quality."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from trainer.embedding_eval import roc_auc, separation


def test_roc_auc_matches_sklearn_with_ties() -> None:
    rng = np.random.default_rng(0)
    pos = np.round(rng.normal(1.0, 1.0, 300), 1)  # rounding makes ties
    neg = np.round(rng.normal(0.0, 1.0, 500), 1)
    ref = roc_auc_score(np.r_[np.ones(300), np.zeros(500)], np.r_[pos, neg])
    assert roc_auc(pos, neg) == pytest.approx(ref, abs=1e-12)
    assert roc_auc([2.0, 3.0], [0.0, 1.0]) == 1.0
    assert roc_auc([0.0], [1.0]) == 0.0
    with pytest.raises(ValueError):
        roc_auc([], [1.0])


def clustered(n_classes: int, spread: float, seed: int = 0):
    """Patches whose 'embedding' is a class direction plus noise of the given spread (identity embed)."""
    rng = np.random.default_rng(seed)
    dim = 16
    centres = rng.normal(size=(n_classes + 1, dim))
    clips = {
        f"c{c}": [centres[c] + spread * rng.normal(size=(5, dim)) for _ in range(6)] for c in range(n_classes)
    }
    background = centres[-1] + spread * rng.normal(size=(200, dim))
    return clips, background


def test_separation_is_high_for_tight_clusters_and_near_chance_for_noise() -> None:
    clips, background = clustered(5, spread=0.1)
    good = separation(lambda x: x, clips, background, shots=3)
    assert good.classes == 5
    assert good.target_vs_background_auc > 0.99 and good.same_vs_different_auc > 0.99
    assert good.few_shot_accuracy == 1.0
    clips, background = clustered(5, spread=50.0, seed=1)
    bad = separation(lambda x: x, clips, background, shots=3)
    assert 0.3 < bad.target_vs_background_auc < 0.7
    assert 0.3 < bad.same_vs_different_auc < 0.7


def test_separation_needs_two_usable_classes() -> None:
    clips, background = clustered(1, spread=0.1)
    with pytest.raises(ValueError, match=">= 2 classes"):
        separation(lambda x: x, clips, background)
