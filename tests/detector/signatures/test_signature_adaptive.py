"""AmbientNormaliser (CFAR): one false-alarm rate at a quiet site and a noisy one, stable under feedback."""

from __future__ import annotations

import numpy as np
import pytest

from detector.signatures import AmbientNormaliser

WARM = 3000  # windows of ambient before counting (fills the ring)
QUIET, NOISY = (2, 8), (5, 5)  # Beta parameters of the two sites' ambient scores


def ambient(site: tuple[int, int], n: int, seed: int) -> list[float]:
    return np.random.default_rng(seed).beta(*site, n).tolist()


def run(site, n: int, seed: int, thresholds, *, detect_at: float | None = None) -> np.ndarray:
    """False-alarm rate per threshold on ``n`` windows after warm-up.

    ``detect_at``: windows adapting to at least this are flagged as detections (kept out of the ambient
    sample), as the daemon's event logic would flag them.
    """
    scores = ambient(site, WARM + n, seed)
    norm = AmbientNormaliser()
    for s in scores[:WARM]:
        norm.update(s, detected=False)
    assert norm.warm
    thresholds = np.asarray(thresholds)
    alarms = np.zeros(len(thresholds))
    for s in scores[WARM:]:
        a = norm.adapt(s)
        alarms += a >= thresholds
        norm.update(s, detected=detect_at is not None and a >= detect_at)
    return alarms / n


def test_same_false_alarm_rate_at_a_quiet_and_a_noisy_site():
    thresholds = [0.98, 0.99, 0.995]
    quiet = run(QUIET, 40_000, 1, thresholds)
    noisy = run(NOISY, 40_000, 2, thresholds)
    design = 1 - np.asarray(thresholds)
    ratio = noisy / quiet
    assert np.all((ratio > 1 / 1.5) & (ratio < 1.5)), (quiet, noisy)
    assert np.all((quiet > design / 1.5) & (quiet < design * 1.5)), quiet  # and near the intended rate
    assert np.all((noisy > design / 1.5) & (noisy < design * 1.5)), noisy
    # one raw threshold instead: rates orders of magnitude apart (1.3e-4 vs 0.099 at 0.7)
    rng = np.random.default_rng(3)
    raw_quiet, raw_noisy = (np.mean(rng.beta(*site, 400_000) >= 0.7) for site in (QUIET, NOISY))
    assert raw_noisy / raw_quiet > 100


def test_excluding_detections_does_not_run_away():
    # every exceedance of 0.99 is flagged as a detection and kept out of the ambient sample, for 20 ring
    # lengths: without counting them as censored exceedances the threshold would creep down
    rate = run(NOISY, 60_000, 4, [0.99], detect_at=0.99)[0]
    assert 0.01 / 1.5 < rate < 0.01 * 1.5, rate


def test_a_real_event_is_not_masked():
    norm = AmbientNormaliser()
    for s in ambient(NOISY, WARM, 5):
        norm.update(s)
    adapted = []
    for i in range(600):  # a 48 s event scoring ~0.93 inside the noisy site's ambience (p ~ 1e-4)
        s = 0.93 + 0.01 * np.sin(i)
        adapted.append(norm.adapt(s))
        norm.update(s, detected=True)
    assert min(adapted) > 0.9995
    assert norm.state()["censored_fraction"] == pytest.approx(0.01)  # capped at max_censored


def test_warm_up_passes_scores_through():
    norm = AmbientNormaliser(window=1000, warmup=400)
    for i, s in enumerate(ambient(QUIET, 399, 6)):
        assert norm.adapt(s) == s and not norm.warm
        norm.update(s)
        assert norm.state()["ambient"] == i + 1
    assert norm.adapt(0.25) == 0.25 and np.isnan(norm.tail_probability(0.25))
    np.testing.assert_array_equal(norm.adapt(np.array([0.1, 0.7])), [0.1, 0.7])
    norm.update(0.2)
    assert norm.warm and norm.adapt(0.25) != 0.25
    # detections do not count towards warm-up
    other = AmbientNormaliser(window=1000, warmup=400)
    for s in ambient(QUIET, 500, 6):
        other.update(s, detected=True)
    assert not other.warm


def test_adapt_is_monotonic_bounded_and_vectorised():
    norm = AmbientNormaliser()
    for s in ambient(QUIET, 3000, 7):
        norm.update(s)
    grid = np.linspace(-0.5, 1.5, 2001)
    adapted = norm.adapt(grid)
    assert adapted.shape == grid.shape and np.all(np.diff(adapted) >= -1e-12)
    assert adapted.min() == 0.0 and adapted.max() <= 1.0
    assert [norm.adapt(float(s)) for s in grid[::100]] == pytest.approx(adapted[::100].tolist(), abs=1e-12)
    assert norm.adapt(float("nan")) == 0.0
    for p in (0.5, 0.1, 0.01, 1e-3, 1e-5):  # score_at inverts tail_probability
        assert norm.tail_probability(norm.score_at(p)) == pytest.approx(p, rel=1e-6)


def test_noisy_site_scores_adapt_lower():
    quiet, noisy = AmbientNormaliser(), AmbientNormaliser()
    for q, n in zip(ambient(QUIET, 3000, 8), ambient(NOISY, 3000, 9), strict=True):
        quiet.update(q)
        noisy.update(n)
    assert quiet.adapt(0.7) > 0.99 and noisy.adapt(0.7) < 0.95  # true: 1 - 4.3e-4 and 1 - 0.099
    assert 0.5 < quiet.score_at(1e-2) < 0.62 and 0.8 < noisy.score_at(1e-2) < 0.86  # true: 0.55, 0.83


def test_deterministic_and_resettable():
    scores = ambient(NOISY, 4000, 10)
    a, b = AmbientNormaliser(), AmbientNormaliser()
    for s in scores:
        a.update(s, detected=s > 0.9)
        b.update(s, detected=s > 0.9)
    assert a.state() == b.state() and a.adapt(0.8) == b.adapt(0.8)
    state = a.state()
    assert state["warm"] and state["ambient"] == 3000 and state["updates"] == 4000
    assert (
        0.45 < state["median"] < 0.55
        and state["score_at_1e-3"] > state["score_at_1e-2"] > state["tail_start"]
    )
    a.update(float("nan"))
    assert a.state()["ignored"] == 1 and a.state()["updates"] == 4000
    a.reset()
    assert not a.warm and a.state()["ambient"] == 0 and a.state()["median"] is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"window": 10},
        {"warmup": 5},
        {"warmup": 5000},
        {"tail_fraction": 0.9},
        {"max_censored": 0.5},
        {"refresh": 0},
    ],
)
def test_bad_parameters(kwargs):
    with pytest.raises(ValueError):
        AmbientNormaliser(**kwargs)


def test_the_effective_threshold_never_passes_the_top_of_the_score_range():
    # a bounded tail (shape -0.5) fitted to a few high ambient scores extrapolates past 1.0 far out
    norm = AmbientNormaliser(3000, warmup=600)
    rng = np.random.default_rng(0)
    for _ in range(3000):
        u = rng.random()
        norm.update(
            rng.uniform(0, 0.01)
            if u < 0.89
            else rng.uniform(0.1, 0.9)
            if u < 0.99
            else rng.uniform(0.93, 0.97)
        )
    assert norm.warm
    assert norm.score_at(0.05) < 0.9  # the body: an ordinary quantile
    assert 0.97 <= norm.score_at(1e-3) <= 1.0  # far in the tail: capped at the top score, never above
