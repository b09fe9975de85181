"""Numpy scorers and calibration against scikit-learn (parity <= 1e-6), and their parameter checks.

scikit-learn is used here only as the reference; the conversion from fitted models to signature params is
written out in this file (and must agree with ``trainer.scorer_params``, which enrollment uses).
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import IsolationForest
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics.pairwise import cosine_similarity
from sklearn.mixture import GaussianMixture
from sklearn.svm import OneClassSVM

from detector.signatures import Signature, SignatureData
from detector.signatures.calibration import Calibration
from detector.signatures.scorers import average_path_length, make_scorer
from trainer import scorer_params

D = 64
SEEDS = (0, 1, 2)
PARITY = 1e-6


# ---------------------------------------------------------------------------------------------- reference
def ocsvm_to_params(m: OneClassSVM) -> dict:
    return {
        "support_vectors": m.support_vectors_,
        "dual_coef": m.dual_coef_[0],
        "gamma": float(m._gamma),
        "offset": float(m.offset_[0]),
    }


def gmm_to_params(m: GaussianMixture) -> dict:
    return {"weights": m.weights_, "means": m.means_, "covariances": m.covariances_}


def iforest_to_params(m: IsolationForest) -> dict:
    parts = {k: [] for k in ("left", "right", "feature", "threshold", "n_node_samples")}
    offsets = [0]
    for est, features in zip(m.estimators_, m.estimators_features_, strict=True):
        t = est.tree_
        parts["left"].append(t.children_left)
        parts["right"].append(t.children_right)
        parts["feature"].append(np.where(t.children_left >= 0, features[t.feature], -2))  # subset -> column
        parts["threshold"].append(t.threshold)
        parts["n_node_samples"].append(t.n_node_samples)
        offsets.append(offsets[-1] + t.node_count)
    params = {k: np.concatenate(v) for k, v in parts.items()}
    params.update(node_offset=np.array(offsets), max_samples=int(m.max_samples_), offset=float(m.offset_))
    return params


def data(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(train, test)`` float32 embeddings: a cluster, and a test set of inliers and outliers."""
    rng = np.random.default_rng(seed)
    centre = rng.normal(size=D)
    train = centre + rng.normal(scale=0.5, size=(240, D))
    test = np.concatenate(
        [centre + rng.normal(scale=0.5, size=(150, D)), rng.normal(scale=1.5, size=(150, D))]
    )
    return train.astype(np.float32), test.astype(np.float32)


def worst(a: np.ndarray, b: np.ndarray) -> float:
    assert a.shape == b.shape
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


# ---------------------------------------------------------------------------------------------- parity
@pytest.mark.parametrize("seed", SEEDS)
def test_prototype_is_max_cosine_similarity(seed):
    train, test = data(seed)
    protos = train[:5] / np.linalg.norm(train[:5], axis=1, keepdims=True)
    scorer = make_scorer("prototype", {"prototypes": protos})
    assert worst(scorer.raw(test), cosine_similarity(test, protos).max(axis=1)) <= PARITY
    # not normalised prototypes and embeddings give the same cosine
    assert (
        worst(make_scorer("prototype", {"prototypes": 3 * protos}).raw(7 * test), scorer.raw(test)) <= PARITY
    )


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("gamma", "nu"), [("scale", 0.1), (0.02, 0.5)])
def test_ocsvm_matches_decision_function(seed, gamma, nu):
    train, test = data(seed)
    model = OneClassSVM(kernel="rbf", gamma=gamma, nu=nu).fit(train)
    got = make_scorer("ocsvm", ocsvm_to_params(model)).raw(test)
    want = model.decision_function(test)
    assert worst(got, want) <= PARITY
    assert np.mean(got[:150] > 0) > np.mean(got[150:] > 0)  # inliers score higher


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("covariance_type", ["spherical", "diag"])
def test_gmm_matches_score_samples(seed, covariance_type):
    train, test = data(seed)
    # float64 data: with float32 input scikit-learn keeps float32 parameters and squared norms, and is
    # itself only ~1e-5 accurate; the detector's scorer computes in float64 from float32 embeddings
    model = GaussianMixture(3, covariance_type=covariance_type, random_state=seed).fit(
        train.astype(np.float64)
    )
    got = make_scorer("gmm", gmm_to_params(model)).raw(test)
    want = model.score_samples(test.astype(np.float64))
    assert worst(got, want) <= PARITY
    far = make_scorer("gmm", gmm_to_params(model)).raw(np.full((1, D), 1e3, np.float32))
    assert np.isfinite(far).all()  # logsumexp: no underflow to -inf


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"max_samples": 64, "max_features": 0.5, "contamination": 0.05},
        {"max_samples": 1},
        {"max_samples": 2},
        {"max_samples": 3, "n_estimators": 7},
    ],
)
def test_iforest_matches_decision_function(seed, options):
    train, test = data(seed)
    model = IsolationForest(random_state=seed, **{"n_estimators": 50, **options}).fit(train)
    scorer = make_scorer("iforest", iforest_to_params(model))
    assert worst(scorer.score_samples(test), model.score_samples(test)) <= PARITY
    assert worst(scorer.raw(test), model.decision_function(test)) <= PARITY
    assert worst(scorer.raw(test[:1]), model.decision_function(test[:1])) <= PARITY  # one window at a time


def test_average_path_length_rule():
    from sklearn.ensemble._iforest import _average_path_length

    n = np.array([0, 1, 2, 3, 4, 10, 256, 1000])
    assert worst(average_path_length(n), _average_path_length(n)) <= 1e-12
    assert average_path_length(n)[:3].tolist() == [0.0, 0.0, 1.0]


@pytest.mark.parametrize("seed", SEEDS)
def test_isotonic_calibration_matches_predict(seed):
    rng = np.random.default_rng(seed)
    raw = np.round(rng.normal(size=400), 2)
    target = (raw + rng.normal(scale=0.7, size=400) > 0.3).astype(float)
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw, target)
    cal = Calibration({"kind": "isotonic", "x": iso.X_thresholds_, "y": iso.y_thresholds_})
    query = np.concatenate([np.linspace(-6, 6, 1001), raw, iso.X_thresholds_])  # out of range, ties, knots
    assert worst(cal(query), iso.predict(query)) <= PARITY
    assert cal(query).min() >= 0 and cal(query).max() <= 1


@pytest.mark.parametrize("seed", SEEDS)
def test_logistic_calibration_matches_predict_proba(seed):
    rng = np.random.default_rng(seed)
    raw = rng.normal(size=300)
    target = (raw + rng.normal(scale=0.5, size=300) > 0).astype(int)
    lr = LogisticRegression().fit(raw[:, None], target)
    cal = Calibration({"kind": "logistic", "a": float(lr.coef_[0, 0]), "b": float(lr.intercept_[0])})
    query = np.concatenate([np.linspace(-50, 50, 101), raw])
    assert worst(cal(query), lr.predict_proba(query[:, None])[:, 1]) <= PARITY


# ------------------------------------------------------------------------------------- trainer helpers
def test_trainer_scorer_params_match_reference_and_sklearn():
    train, test = data(5)
    svm = OneClassSVM(gamma="scale", nu=0.2).fit(train)
    gmm = GaussianMixture(2, covariance_type="spherical", random_state=0).fit(train.astype(np.float64))
    forest = IsolationForest(n_estimators=20, max_features=0.75, random_state=0).fit(train)
    iso = IsotonicRegression(out_of_bounds="clip").fit([0.1, 0.2, 0.3, 0.4], [0, 0, 1, 1])
    cases = [
        ("ocsvm", scorer_params.ocsvm_params(svm), ocsvm_to_params(svm), svm.decision_function(test)),
        (
            "gmm",
            scorer_params.gmm_params(gmm),
            gmm_to_params(gmm),
            gmm.score_samples(test.astype(np.float64)),
        ),
        (
            "iforest",
            scorer_params.iforest_params(forest),
            iforest_to_params(forest),
            forest.decision_function(test),
        ),
    ]
    for kind, mine, reference, want in cases:
        assert set(mine) == set(reference), kind
        for key, value in reference.items():
            np.testing.assert_array_equal(np.asarray(mine[key]), np.asarray(value), err_msg=f"{kind}.{key}")
        assert worst(make_scorer(kind, mine).raw(test), want) <= PARITY
    cal = scorer_params.isotonic_calibration(iso)
    assert (
        cal["kind"] == "isotonic"
        and worst(Calibration(cal)([0.0, 0.25, 0.5]), iso.predict([0.0, 0.25, 0.5])) == 0
    )
    protos = scorer_params.prototype_params(train[:4])["prototypes"]
    assert protos.dtype == np.float32 and np.allclose(np.linalg.norm(protos, axis=1), 1, atol=1e-6)
    with pytest.raises(ValueError, match="rbf"):
        scorer_params.ocsvm_params(OneClassSVM(kernel="linear").fit(train))
    with pytest.raises(ValueError, match="spherical"):
        scorer_params.gmm_params(GaussianMixture(1, covariance_type="full").fit(train))


def test_signature_scores_calibrated_confidences():
    train, test = data(7)
    svm = OneClassSVM(gamma="scale", nu=0.1).fit(train)
    raw = svm.decision_function(train)
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(
        np.concatenate([raw, svm.decision_function(test[150:])]), np.r_[np.ones(len(raw)), np.zeros(150)]
    )
    sig = Signature(
        SignatureData(
            name="svm",
            scorer="ocsvm",
            model_sha256="0" * 64,
            feature_spec={},
            params=ocsvm_to_params(svm),
            threshold=0.5,
            calibration=scorer_params.isotonic_calibration(iso),
        )
    )
    assert not sig.needs_patches and sig.scorer_kind == "ocsvm" and sig.threshold == 0.5
    scores = sig.score(test)
    assert scores.shape == (300,) and scores.dtype == np.float64
    assert worst(scores, iso.predict(svm.decision_function(test))) <= PARITY
    assert worst(sig.raw(test[0]), svm.decision_function(test[:1])) <= PARITY  # one (d,) vector


# ---------------------------------------------------------------------------------------------- refusals
def _forest() -> dict:
    train, _ = data(0)
    return iforest_to_params(IsolationForest(n_estimators=3, max_samples=16, random_state=0).fit(train))


@pytest.mark.parametrize(
    ("kind", "change", "message"),
    [
        ("ocsvm", {"dual_coef": np.ones(3)}, "dual_coef: 3 coefficients"),
        ("ocsvm", {"gamma": -1.0}, "gamma"),
        ("ocsvm", {"support_vectors": np.ones(5)}, "support_vectors: shape"),
        ("ocsvm", {"extra": 1}, "unknown extra"),
        ("gmm", {"covariances": np.ones((2, 3, 3))}, "covariances"),
        ("gmm", {"weights": np.array([0.5, 0.6])}, "weights"),
        ("gmm", {"means": np.full((2, 4), np.nan)}, "NaN"),
        ("prototype", {"prototypes": np.zeros((1, 4))}, "zero length"),
        ("iforest", {"node_offset": np.array([0, 5])}, "node_offset"),
        ("iforest", {"max_samples": 0}, "max_samples"),
    ],
)
def test_bad_params_are_refused(kind, change, message):
    base = {
        "ocsvm": {"support_vectors": np.ones((2, 4)), "dual_coef": np.ones(2), "gamma": 0.1, "offset": 0.0},
        "gmm": {"weights": np.array([0.5, 0.5]), "means": np.zeros((2, 4)), "covariances": np.ones(2)},
        "prototype": {"prototypes": np.ones((1, 4))},
        "iforest": _forest(),
    }[kind]
    with pytest.raises(ValueError, match=message):
        make_scorer(kind, {**base, **change})


def test_iforest_arrays_that_are_not_trees_are_refused():
    params = _forest()
    left = params["left"].copy()
    inner = np.flatnonzero(left >= 0)
    left[inner[1]] = left[inner[0]]  # two parents share a child (and one subtree is orphaned)
    with pytest.raises(ValueError, match="parents|unreachable|child"):
        make_scorer("iforest", {**params, "left": left})
    right = params["right"].copy()
    right[inner[0]] = 0  # points back to the root
    with pytest.raises(ValueError, match="child index"):
        make_scorer("iforest", {**params, "right": right})


def test_wrong_embedding_size_is_refused():
    scorer = make_scorer("prototype", {"prototypes": np.eye(4)})
    with pytest.raises(ValueError, match=r"expected \(n, 4\)"):
        scorer.raw(np.ones((2, 5), np.float32))
