"""The `.sig` file: round trip, atomic writes, and a clear refusal for every kind of bad file or name."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from detector.errors import DetectorError
from detector.signatures import (
    FORMAT_VERSION,
    SignatureData,
    SignatureError,
    read_signature,
    validate_name,
    write_signature,
)
from detector.signatures.format import MAX_FILE_BYTES

GOOD_NAMES = ["dog", "Dog_Bark-2", "a", "x" * 64, "v1.2", "_hidden-ish", "0"]
BAD_NAMES = [
    "",
    "x" * 65,
    "../x",
    "a/b",
    "a\\b",
    "a\nb",
    "a\tb",
    "a\x00b",
    "a b",
    ".dog",
    "..",
    "dög",
    "a+b",
    "#",
]


def _params(kind: str) -> dict:
    rng = np.random.default_rng(0)
    if kind == "ocsvm":
        return {
            "support_vectors": rng.normal(size=(7, 64)),
            "dual_coef": rng.random(7),
            "gamma": 0.01,
            "offset": 1.5,
        }
    if kind == "gmm":
        return {
            "weights": np.array([0.25, 0.75]),
            "means": rng.normal(size=(2, 64)),
            "covariances": np.ones(2),
        }
    if kind == "iforest":
        return {
            "node_offset": np.array([0, 3, 4], np.int32),
            "left": np.array([1, -1, -1, -1], np.int32),
            "right": np.array([2, -1, -1, -1], np.int32),
            "feature": np.array([5, -2, -2, -2], np.int32),
            "threshold": np.array([0.25, -2.0, -2.0, -2.0]),
            "n_node_samples": np.array([8, 3, 5, 8], np.int32),
            "max_samples": 8,
            "offset": -0.5,
        }
    return {"prototypes": (np.eye(64)[:2]).astype(np.float32)}


@pytest.mark.parametrize("kind", ["prototype", "ocsvm", "gmm", "iforest"])
def test_round_trip(tmp_path, make_data, kind):
    data = make_data(
        scorer=kind,
        params=_params(kind),
        calibration={"kind": "isotonic", "x": np.array([-1.0, 0.0, 2.5]), "y": np.array([0.0, 0.4, 1.0])},
        enrollment={"clips": np.int64(3), "self_similarity": np.float32(0.5), "per_clip": np.arange(3)},
    )
    path = write_signature(tmp_path / "dog.sig", data)
    again = read_signature(path)
    assert again == read_signature(path) and again.name == "dog" and again.scorer == kind
    for key, value in data.params.items():
        got = again.params[key]
        if isinstance(value, np.ndarray):
            assert got.dtype == value.dtype and got.shape == value.shape and np.array_equal(got, value)
            assert not got.flags.writeable
        else:
            assert got == value and type(got) is type(value)
    assert np.array_equal(again.calibration["x"], [-1.0, 0.0, 2.5])
    assert again.enrollment == {"clips": 3, "self_similarity": 0.5, "per_clip": [0, 1, 2]}
    assert again.threshold == 0.8 and again.created == data.created
    assert again.feature_spec == data.feature_spec and again.model_sha256 == data.model_sha256
    doc = json.loads(path.read_text())
    assert doc["format"] == "sigdetect-signature" and doc["format_version"] == FORMAT_VERSION == 1
    assert set(doc) == {"format", "format_version", "signature", "sha256"}
    first = next(v for v in doc["signature"]["params"].values() if isinstance(v, dict))
    assert set(first) == {"dtype", "shape", "base64"}
    assert b"pickle" not in path.read_bytes() and path.read_bytes().isascii()


def test_default_created_is_utc_now(make_data, tmp_path):
    fields = {
        k: getattr(make_data(), k) for k in ("name", "scorer", "model_sha256", "feature_spec", "params")
    }
    data = SignatureData(**fields, threshold=0.5, calibration={"kind": "logistic", "a": 1.0, "b": 0.0})
    assert data.created.endswith("+00:00") and data.enrollment == {}
    assert read_signature(write_signature(tmp_path / "x.sig", data)).created == data.created


def test_write_is_atomic_and_overwrites(tmp_path, make_data, monkeypatch):
    path = tmp_path / "dog.sig"
    write_signature(path, make_data(threshold=0.3))
    write_signature(path, make_data(threshold=0.6))
    assert read_signature(path).threshold == 0.6
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dog.sig"]  # no temporary files left

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(SignatureError, match="cannot write signature: .*No space"):
        write_signature(path, make_data(threshold=0.9))
    assert read_signature(path).threshold == 0.6  # the old file is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dog.sig"]


# ---------------------------------------------------------------------------------------------- names
@pytest.mark.parametrize("name", GOOD_NAMES)
def test_good_names(name):
    assert validate_name(name) == name


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_names_are_refused(name, tmp_path, make_data):
    with pytest.raises(SignatureError, match="ASCII letters, digits") as info:
        validate_name(name)
    assert isinstance(info.value, DetectorError)
    with pytest.raises(SignatureError, match="name"):
        write_signature(tmp_path / "x.sig", make_data(name=name))
    assert not list(tmp_path.iterdir())


def test_bad_name_in_a_file_is_refused(tmp_path, make_data, edit_file):
    path = write_signature(tmp_path / "dog.sig", make_data())
    edit_file(path, lambda doc: doc["signature"].update(name="../../etc/passwd"))
    with pytest.raises(SignatureError, match=r"dog\.sig: name: .*not allowed"):
        read_signature(path)


# ---------------------------------------------------------------------------------------------- bad files
def test_missing_file(tmp_path):
    with pytest.raises(SignatureError, match=r"nope\.sig: signature file not found"):
        read_signature(tmp_path / "nope.sig")


@pytest.mark.parametrize("keep", [0.0, 0.1, 0.5, 0.9, 0.999])
def test_truncated_file(tmp_path, make_data, keep):
    path = write_signature(tmp_path / "dog.sig", make_data())
    content = path.read_bytes()
    path.write_bytes(content[: int(len(content) * keep)])
    message = "empty file" if keep == 0 else "not valid JSON .*truncated"
    with pytest.raises(SignatureError, match=message) as info:
        read_signature(path)
    assert str(path) in str(info.value)


def test_every_flipped_byte_is_detected(tmp_path, make_data):
    path = write_signature(tmp_path / "dog.sig", make_data(params={"prototypes": np.eye(64)[:1]}))
    content = bytearray(path.read_bytes())
    rng = np.random.default_rng(0)
    positions = rng.choice(len(content), size=60, replace=False)
    reasons = set()
    for pos in positions:
        tampered = bytearray(content)
        tampered[pos] ^= 1 << int(rng.integers(8))
        path.write_bytes(bytes(tampered))
        with pytest.raises(SignatureError) as info:
            read_signature(path)
        reasons.add(str(info.value).split(": ", 1)[1][:20])
    assert any("checksum mismatch" in r for r in reasons)


def test_edited_value_is_a_checksum_mismatch(tmp_path, make_data):
    path = write_signature(tmp_path / "dog.sig", make_data())
    doc = json.loads(path.read_text())
    doc["signature"]["threshold"] = 0.01  # a valid value, but not what was written
    path.write_text(json.dumps(doc, indent=1))
    with pytest.raises(SignatureError, match=r"dog\.sig: checksum mismatch .*changed or corrupted"):
        read_signature(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"name": "general", "kind": "embedding"}', "not a sigdetect signature"),
        ("[1, 2, 3]", "not a sigdetect signature"),
        ('"just a string"', "not a sigdetect signature"),
        ('{"format": "something-else", "format_version": 1}', "format is 'something-else'"),
        ("PK\x03\x04\x00\x00\xff\xfe binary", "binary data, not JSON"),
        ("threshold = 0.5\n", "not valid JSON"),
        ('{"format": "sigdetect-signature", "format_version": NaN}', "not valid JSON .*NaN"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ],
)
def test_foreign_file(tmp_path, content, message):
    path = tmp_path / "other.sig"
    path.write_bytes(content.encode("latin-1"))
    with pytest.raises(SignatureError, match=message):
        read_signature(path)


@pytest.mark.parametrize(
    ("version", "message"), [(2, "newer sigdetect"), (0, "not supported"), ("1", "integer")]
)
def test_unsupported_format_version(tmp_path, make_data, edit_file, version, message):
    path = write_signature(tmp_path / "dog.sig", make_data())
    edit_file(path, lambda doc: doc.update(format_version=version))
    with pytest.raises(SignatureError, match=f"format_version.*{message}"):
        read_signature(path)


def test_oversized_file_is_refused_unread(tmp_path):
    path = tmp_path / "huge.sig"
    with open(path, "wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)  # sparse: no 16 MiB written
    with pytest.raises(SignatureError, match=r"at most 16777216 bytes \(16 MiB\)"):
        read_signature(path)


def test_directory_is_not_a_signature(tmp_path):
    (tmp_path / "d.sig").mkdir()
    with pytest.raises(SignatureError, match="not a regular file"):
        read_signature(tmp_path / "d.sig")


def _set(path: list, value):
    def change(doc):
        target = doc["signature"]
        for key in path[:-1]:
            target = target[key]
        if value is KeyError:
            del target[path[-1]]
        else:
            target[path[-1]] = value

    return change


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (["threshold"], "high", "threshold: got 'high'"),
        (["threshold"], 1.5, r"threshold: got 1.5; expected a number in \[0, 1\]"),
        (["scorer"], "svm", "scorer: got 'svm'"),
        (["model_sha256"], "abc", "model_sha256"),
        (["created"], "yesterday", "created"),
        (["enrollment"], [1, 2], "enrollment"),
        (["feature_spec", "n_bands"], -3, "feature_spec"),
        (["feature_spec", "colour"], "blue", "feature_spec: .*unknown field"),
        (["params", "prototypes", "shape"], [2, 64], r"params.prototypes: array data: \d+ bytes; expected"),
        (["params", "prototypes", "dtype"], "complex128", "params.prototypes: array dtype"),
        (["params", "prototypes", "base64"], "%%%", "not valid base64"),
        (["params", "prototypes"], [[1.0, 0.0]], "params.prototypes: got"),
        (["params", "extra"], 3, "params: unknown extra"),
        (["calibration", "kind"], "platt", "calibration: kind"),
        (["calibration", "a"], -1.0, "calibration: a: got -1.0; expected > 0"),
        (["name"], KeyError, "signature: missing name"),
        (["colour"], "blue", "signature: unknown colour"),
    ],
)
def test_bad_fields_are_refused_by_name(tmp_path, make_data, edit_file, path, value, message):
    sig = write_signature(tmp_path / "dog.sig", make_data())
    edit_file(sig, _set(path, value))
    with pytest.raises(SignatureError, match=message) as info:
        read_signature(sig)
    assert str(info.value).startswith(str(sig))


def test_bad_array_shapes_for_the_scorer(tmp_path, make_data, edit_file):
    data = make_data(scorer="ocsvm", params=_params("ocsvm"))
    sig = write_signature(tmp_path / "svm.sig", data)
    other = write_signature(
        tmp_path / "tmp.sig",
        make_data(
            scorer="ocsvm",
            params={**_params("ocsvm"), "dual_coef": np.ones(3), "support_vectors": np.ones((3, 64))},
        ),
    )
    short = json.loads(other.read_text())["signature"]["params"]["dual_coef"]
    edit_file(sig, _set(["params", "dual_coef"], short))
    with pytest.raises(SignatureError, match=r"params: dual_coef: 3 coefficients for 7 support vectors"):
        read_signature(sig)


def test_write_refuses_invalid_data(tmp_path, make_data):
    cases = [
        (make_data(params={"prototypes": np.full((1, 64), np.nan)}), "NaN"),
        (make_data(threshold=float("nan")), "threshold"),
        (make_data(scorer="gmm"), "missing covariances, means, weights"),
        (make_data(enrollment={"when": object()}), "enrollment: cannot store as JSON"),
        (make_data(params={"prototypes": np.ones((1, 64), dtype=np.complex64)}), "complex64"),
        (
            make_data(calibration={"kind": "isotonic", "x": [1.0, 0.0], "y": [0.0, 1.0]}),
            "strictly increasing",
        ),
        (make_data(calibration={"kind": "isotonic", "x": [0.0, 1.0], "y": [0.0, 2.0]}), r"in \[0, 1\]"),
        (make_data(feature_spec={"n_fft": 512}), "feature_spec: .*missing field"),
    ]
    for data, message in cases:
        with pytest.raises(SignatureError, match=message):
            write_signature(tmp_path / "x.sig", data)
    assert not list(tmp_path.iterdir())
