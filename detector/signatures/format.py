"""The signature file `<target>.sig`: one JSON document, arrays as base64, a checksum, atomic writes.

Layout (``indent=1`` JSON, UTF-8)::

    {
     "format": "sigdetect-signature",
     "format_version": 1,
     "signature": {
      "name": "doorbell", "scorer": "ocsvm", "model_sha256": "<64 hex>", "feature_spec": {...},
      "params": {"support_vectors": {"dtype": "float64", "shape": [m, d], "base64": "..."},
                 "gamma": 0.01, ...},
      "threshold": 0.5, "calibration": {"kind": "isotonic", "x": {...array...}, "y": {...array...}},
      "enrollment": {...free-form JSON...}, "created": "2025-01-01T00:00:00+00:00"
     },
     "sha256": "<hex sha256 of the canonical JSON of format, format_version and signature>"
    }

Arrays are little-endian, C order, ``float32``/``float64``/``int32``/``int64``; nothing is pickled. The
checksum covers the content, so a truncated, edited or corrupted file is refused with a clear message.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import datetime as _dt
import hashlib
import json
import math
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from detector.errors import DetectorError
from detector.features.spec import FeatureSpec
from detector.signatures.calibration import check_calibration
from detector.signatures.scorers import BINARY_KEYS, SCORER_KINDS, make_scorer

FORMAT_MARKER = "sigdetect-signature"
FORMAT_VERSION = 1
MAX_FILE_BYTES = 16 * 1024 * 1024  # 16 MiB: far above a real signature (a 100-tree forest is ~3 MB)
NAME_MAX_CHARS = 64
ARRAY_DTYPES = ("float32", "float64", "int32", "int64")
_NAME_RE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")
_SHA_RE = re.compile(r"[0-9a-f]{64}")
_HEAD_FILE_RE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*\.tflite")
_TOP_KEYS = ("format", "format_version", "signature", "sha256")
_FIELDS = (
    "name",
    "scorer",
    "model_sha256",
    "feature_spec",
    "params",
    "threshold",
    "calibration",
    "enrollment",
    "created",
)
_ARRAY_KEYS = {"dtype", "shape", "base64"}
NAME_RULE = (
    f"1-{NAME_MAX_CHARS} characters: ASCII letters, digits, '-', '_' and '.', not starting with '.' "
    "(no spaces, path separators or control characters)"
)


class SignatureError(DetectorError):
    """A signature file or target name cannot be used: the message names the file and what was expected."""


def validate_name(name: str) -> str:
    """Check a target name (it becomes a file name and an MQTT topic level).

    Args:
        name: The target name.

    Returns:
        ``name`` unchanged.

    Raises:
        SignatureError: The name is empty, too long, or has characters outside the allowed set.
    """
    if not isinstance(name, str):
        raise SignatureError(
            f"target name: got {type(name).__name__} {name!r}; expected a string of {NAME_RULE}"
        )
    if len(name) > NAME_MAX_CHARS or not _NAME_RE.fullmatch(name):
        shown = repr(name) if len(name) <= 80 else repr(name[:77]) + "..."
        raise SignatureError(
            f"target name {shown} ({len(name)} characters) is not allowed; expected {NAME_RULE}"
        )
    return name


@dataclasses.dataclass(frozen=True, eq=False)
class SignatureData:
    """The content of a signature file.

    Attributes:
        name: Target name (``validate_name``).
        scorer: ``prototype``, ``ocsvm``, ``gmm``, ``iforest`` (score the shared embedding) or ``binary``
            (a per-target TFLite head scored on the feature patches).
        model_sha256: sha256 of the embedding model's ``.tflite`` the signature was made with (for
            ``binary``: of the head model, equal to ``params["model_file_sha256"]``).
        feature_spec: ``FeatureSpec.to_dict()`` of that model's front end.
        params: Scorer parameters: arrays, numbers and strings (see ``detector.signatures.scorers``;
            ``binary``: ``model_file`` and ``model_file_sha256``).
        threshold: Decision threshold on the calibrated 0..1 score.
        calibration: ``{"kind": "isotonic", "x", "y"}`` or ``{"kind": "logistic", "a", "b"}`` (raw -> 0..1).
        enrollment: Free-form JSON summary (clips, durations, self-similarity, ...).
        created: ISO-8601 UTC time.
    """

    name: str
    scorer: str
    model_sha256: str
    feature_spec: dict[str, Any]
    params: dict[str, np.ndarray | float | int | str | list]
    threshold: float
    calibration: dict[str, Any]
    enrollment: dict[str, Any] = dataclasses.field(default_factory=dict)
    created: str = dataclasses.field(
        default_factory=lambda: _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    )

    def __eq__(self, other: object) -> bool:
        """Field-by-field equality; arrays compare by dtype, shape and values."""
        if not isinstance(other, SignatureData):
            return NotImplemented
        return all(_same(getattr(self, f.name), getattr(other, f.name)) for f in dataclasses.fields(self))

    __hash__ = object.__hash__


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray)
            and isinstance(b, np.ndarray)
            and a.dtype == b.dtype
            and np.array_equal(a, b)
        )
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return set(a) == set(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


# ---------------------------------------------------------------------------------------------- arrays
def encode_array(array: np.ndarray) -> dict[str, Any]:
    """The JSON form of an array: ``{"dtype", "shape", "base64"}`` of its little-endian C-order bytes."""
    arr = np.asarray(array)
    if arr.dtype.name not in ARRAY_DTYPES:
        if arr.dtype.kind == "f":
            arr = arr.astype(np.float64)
        elif arr.dtype.kind in "iu" and arr.dtype != np.uint64:
            arr = arr.astype(np.int64)
        else:
            raise ValueError(
                f"arrays of dtype {arr.dtype} cannot be stored; expected one of {', '.join(ARRAY_DTYPES)}"
            )
    le = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<"))
    return {
        "dtype": arr.dtype.name,
        "shape": [int(n) for n in arr.shape],
        "base64": base64.b64encode(le.tobytes()).decode("ascii"),
    }


def decode_array(obj: Mapping[str, Any]) -> np.ndarray:
    """An array from its JSON form (read-only).

    Raises:
        ValueError: Malformed: unknown dtype, bad shape, bad base64, or a byte count that does not match.
    """
    if set(obj) != _ARRAY_KEYS:
        raise ValueError(
            f"an array object needs exactly the keys dtype, shape, base64; got {', '.join(sorted(obj))}"
        )
    dtype, shape, text = obj["dtype"], obj["shape"], obj["base64"]
    if dtype not in ARRAY_DTYPES:
        raise ValueError(f"array dtype {dtype!r}; expected one of {', '.join(ARRAY_DTYPES)}")
    if (
        not isinstance(shape, list)
        or len(shape) > 8
        or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape)
    ):
        raise ValueError(f"array shape {shape!r}; expected a list of non-negative integers")
    if not isinstance(text, str):
        raise ValueError("array base64: expected a string")
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise ValueError("array base64: not valid base64") from None
    le = np.dtype(dtype).newbyteorder("<")
    expected = math.prod(shape) * le.itemsize
    if len(raw) != expected:
        raise ValueError(f"array data: {len(raw)} bytes; expected {expected} for {dtype} {shape}")
    arr = np.frombuffer(raw, dtype=le).reshape(shape).astype(np.dtype(dtype))  # native byte order, owns data
    arr.setflags(write=False)
    return arr


def _is_array_object(value: object) -> bool:
    return isinstance(value, Mapping) and set(value) == _ARRAY_KEYS


def _plain_json(value: Any, key: str) -> Any:
    """``value`` with numpy scalars/arrays turned into plain JSON values (lists, numbers)."""

    def default(obj: Any) -> Any:
        if isinstance(obj, np.ndarray):
            return obj.tolist()
        if isinstance(obj, np.generic):
            return obj.item()
        raise TypeError(f"{type(obj).__name__} is not JSON-serialisable")

    try:
        return json.loads(json.dumps(value, default=default, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{key}: cannot store as JSON ({exc}); expected plain JSON values") from None


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode()


def _checksum(content: Mapping[str, Any]) -> str:
    return hashlib.sha256(_canonical(content)).hexdigest()


# ---------------------------------------------------------------------------------------------- validation
def _fail(source: str, key: str, problem: str) -> SignatureError:
    return SignatureError(f"{source}: {key}: {problem}")


def _to_json_values(mapping: Mapping[str, Any], key: str) -> dict[str, Any]:
    """Params/calibration as JSON: arrays (and lists of numbers) as array objects, numbers, strings."""
    out: dict[str, Any] = {}
    for k, v in mapping.items():
        if not isinstance(k, str):
            raise ValueError(f"{key}: key {k!r} is not a string")
        if isinstance(v, np.ndarray | list | tuple):
            out[k] = encode_array(np.asarray(v))
        elif isinstance(v, np.generic):
            out[k] = v.item()
        elif isinstance(v, bool) or v is None or isinstance(v, Mapping):
            raise ValueError(f"{key}.{k}: got {v!r}; expected an array, a number or a string")
        elif isinstance(v, float) and not math.isfinite(v):
            raise ValueError(f"{key}.{k}: got {v!r}; expected a finite number")
        elif isinstance(v, int | float | str):
            out[k] = v
        else:
            raise ValueError(f"{key}.{k}: got {type(v).__name__}; expected an array, a number or a string")
    return out


def _from_json_values(mapping: object, key: str, source: str) -> dict[str, Any]:
    if not isinstance(mapping, Mapping):
        raise _fail(source, key, f"got {type(mapping).__name__}; expected an object")
    out: dict[str, Any] = {}
    for k, v in mapping.items():
        if _is_array_object(v):
            try:
                out[k] = decode_array(v)
            except ValueError as exc:
                raise _fail(source, f"{key}.{k}", str(exc)) from None
        elif isinstance(v, bool) or v is None or isinstance(v, Mapping | list):
            raise _fail(
                source, f"{key}.{k}", f"got {v!r:.80}; expected an array object, a number or a string"
            )
        else:
            out[k] = v
    return out


def _check_content(content: object, source: str) -> SignatureData:
    """Validate a file's ``signature`` object (JSON values, arrays encoded) into ``SignatureData``."""
    if not isinstance(content, Mapping):
        raise _fail(source, "signature", f"got {type(content).__name__}; expected an object")
    missing = [f for f in _FIELDS if f not in content]
    unknown = sorted(set(map(str, content)) - set(_FIELDS))
    if missing or unknown:
        parts = [
            f"missing {', '.join(missing)}" if missing else "",
            f"unknown {', '.join(unknown)}" if unknown else "",
        ]
        raise _fail(
            source, "signature", f"{'; '.join(p for p in parts if p)}; expected exactly {', '.join(_FIELDS)}"
        )
    try:
        name = validate_name(content["name"])
    except SignatureError as exc:
        raise _fail(source, "name", str(exc)) from None
    scorer = content["scorer"]
    if scorer not in SCORER_KINDS:
        raise _fail(source, "scorer", f"got {scorer!r}; expected one of {', '.join(SCORER_KINDS)}")
    sha = content["model_sha256"]
    if not isinstance(sha, str) or not _SHA_RE.fullmatch(sha):
        raise _fail(source, "model_sha256", f"got {sha!r:.80}; expected 64 lower-case hex digits")
    spec = content["feature_spec"]
    if isinstance(spec, FeatureSpec):
        spec = spec.to_dict()
    if not isinstance(spec, Mapping):
        raise _fail(source, "feature_spec", f"got {type(spec).__name__}; expected a FeatureSpec object")
    try:
        spec = FeatureSpec.from_dict(dict(spec)).to_dict()
    except (ValueError, TypeError) as exc:
        raise _fail(source, "feature_spec", str(exc)) from None
    threshold = content["threshold"]
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0.0 <= threshold <= 1.0:
        raise _fail(source, "threshold", f"got {threshold!r:.80}; expected a number in [0, 1]")
    created = content["created"]
    try:
        if not isinstance(created, str) or not created:
            raise ValueError
        _dt.datetime.fromisoformat(created)
    except ValueError:
        raise _fail(source, "created", f"got {created!r:.80}; expected an ISO-8601 time") from None
    enrollment = content["enrollment"]
    if not isinstance(enrollment, Mapping):
        raise _fail(source, "enrollment", f"got {type(enrollment).__name__}; expected an object")

    params = _from_json_values(content["params"], "params", source)
    if scorer == "binary":
        _check_binary_params(params, sha, source)
    else:
        try:
            make_scorer(scorer, params)
        except ValueError as exc:
            raise _fail(source, "params", f"{exc} ({scorer} scorer)") from None
    calibration = _from_json_values(content["calibration"], "calibration", source)
    try:
        calibration = check_calibration(calibration)
    except ValueError as exc:
        raise _fail(source, "calibration", str(exc)) from None
    return SignatureData(
        name=name,
        scorer=scorer,
        model_sha256=sha,
        feature_spec=spec,
        params=params,
        threshold=float(threshold),
        calibration=calibration,
        enrollment=dict(enrollment),
        created=created,
    )


def _check_binary_params(params: Mapping[str, Any], model_sha256: str, source: str) -> None:
    if set(params) != set(BINARY_KEYS):
        raise _fail(
            source,
            "params",
            f"got keys {', '.join(sorted(params)) or 'none'}; "
            f"a binary signature has exactly {', '.join(BINARY_KEYS)}",
        )
    model_file, file_sha = params["model_file"], params["model_file_sha256"]
    if not isinstance(model_file, str) or not _HEAD_FILE_RE.fullmatch(model_file):
        raise _fail(
            source,
            "params.model_file",
            f"got {model_file!r:.80}; expected the file name of a .tflite beside the signature "
            "(no directories; e.g. '<name>.head.tflite')",
        )
    if not isinstance(file_sha, str) or not _SHA_RE.fullmatch(file_sha):
        raise _fail(
            source, "params.model_file_sha256", f"got {file_sha!r:.80}; expected 64 lower-case hex digits"
        )
    if file_sha != model_sha256:
        raise _fail(
            source,
            "model_sha256",
            "differs from params.model_file_sha256; "
            "a binary signature records its head model's sha256 in both",
        )


def _content(data: SignatureData, source: str) -> dict[str, Any]:
    """The ``signature`` JSON object of ``data`` (validated, normalised, plain JSON values)."""
    if not isinstance(data, SignatureData):
        raise SignatureError(f"{source}: got {type(data).__name__}; expected SignatureData")
    try:
        spec = (
            data.feature_spec.to_dict() if isinstance(data.feature_spec, FeatureSpec) else data.feature_spec
        )
        content = {}
        for key in _FIELDS:
            value = spec if key == "feature_spec" else getattr(data, key)
            if key in ("params", "calibration") and isinstance(value, Mapping):
                value = _to_json_values(value, key)
            content[key] = _plain_json(value, key)
    except ValueError as exc:
        raise SignatureError(f"{source}: {exc}") from None
    _check_content(content, source)  # what is written must read back
    return content


# ---------------------------------------------------------------------------------------------- files
def write_signature(path: str | Path, data: SignatureData) -> Path:
    """Write ``data`` to ``path`` atomically (a temporary file in the same directory, then ``os.replace``).

    Args:
        path: Destination, normally ``<dir>/<name>.sig``.
        data: The signature; validated exactly as ``read_signature`` validates a file.

    Returns:
        The path written.

    Raises:
        SignatureError: Invalid data (the message names the field), a file over ``MAX_FILE_BYTES``, or an
            OS error writing it.
    """
    path = Path(path)
    content = _content(data, str(path))
    doc = {"format": FORMAT_MARKER, "format_version": FORMAT_VERSION, "signature": content}
    doc["sha256"] = _checksum(doc)
    text = json.dumps(doc, indent=1, ensure_ascii=True, allow_nan=False) + "\n"
    payload = text.encode("ascii")
    if len(payload) > MAX_FILE_BYTES:
        raise SignatureError(
            f"{path}: the signature would be {len(payload)} bytes; at most {MAX_FILE_BYTES} (16 MiB) are "
            "allowed (fewer trees, support vectors or prototypes)"
        )
    directory = path.parent if str(path.parent) else Path(".")
    tmp_name = None
    try:
        with tempfile.NamedTemporaryFile(
            "wb", dir=directory, prefix=f".{path.name}.", suffix=".tmp", delete=False
        ) as tmp:
            tmp_name = tmp.name
            tmp.write(payload)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, path)
        tmp_name = None
        with contextlib.suppress(OSError):  # make the rename durable where the platform allows it
            fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    except OSError as exc:
        raise SignatureError(f"{path}: cannot write signature: {exc}") from None
    finally:
        if tmp_name is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
    return path


def read_signature(path: str | Path) -> SignatureData:
    """Read and verify a signature file.

    Args:
        path: The ``.sig`` file.

    Returns:
        The validated content (arrays as read-only numpy arrays).

    Raises:
        SignatureError: Naming the file: missing or unreadable, over ``MAX_FILE_BYTES``, not JSON or
            truncated, not a signature (no ``format`` marker), an unsupported ``format_version``, a
            checksum mismatch (tampered or corrupted), or a field with a bad type, value or array shape.
    """
    path = Path(path)
    source = str(path)
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise SignatureError(f"{source}: not a regular file; expected a .sig signature file")
        if size > MAX_FILE_BYTES:
            raise SignatureError(
                f"{source}: {size} bytes; a signature file is at most {MAX_FILE_BYTES} bytes (16 MiB), "
                "refusing it"
            )
        with open(path, "rb") as f:
            payload = f.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise SignatureError(f"{source}: signature file not found") from None
    except OSError as exc:
        raise SignatureError(f"{source}: cannot read signature file: {exc.strerror or exc}") from None
    if len(payload) > MAX_FILE_BYTES:
        raise SignatureError(f"{source}: larger than {MAX_FILE_BYTES} bytes (16 MiB), refusing it")
    if not payload.strip():
        raise SignatureError(f"{source}: empty file; expected a signature written by `trainer enroll`")
    try:
        text = payload.decode("utf-8")
        doc = json.loads(text, parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise SignatureError(
            f"{source}: not a signature file (binary data, not JSON text); expected the JSON written by "
            "`trainer enroll`"
        ) from None
    except (json.JSONDecodeError, ValueError) as exc:
        msg = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        at = f", line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise SignatureError(
            f"{source}: not valid JSON ({msg}{at}): the file is truncated or corrupted, or not a signature"
        ) from None
    except RecursionError:
        raise SignatureError(f"{source}: JSON nested too deeply; not a signature file") from None
    if not isinstance(doc, dict) or "format" not in doc:
        raise SignatureError(
            f'{source}: not a sigdetect signature (no "format": "{FORMAT_MARKER}" marker); '
            "expected a file written by `trainer enroll`"
        )
    if doc["format"] != FORMAT_MARKER:
        raise SignatureError(f"{source}: format is {doc['format']!r:.80}; expected {FORMAT_MARKER!r}")
    version = doc.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise SignatureError(
            f"{source}: format_version: got {version!r:.40}; expected the integer {FORMAT_VERSION}"
        )
    if version != FORMAT_VERSION:
        newer = " (written by a newer sigdetect: upgrade the detector)" if version > FORMAT_VERSION else ""
        raise SignatureError(
            f"{source}: format_version {version} is not supported; this detector reads version "
            f"{FORMAT_VERSION}{newer}, or re-enroll the target"
        )
    unknown = sorted(set(doc) - set(_TOP_KEYS))
    if unknown or "signature" not in doc or "sha256" not in doc:
        raise SignatureError(
            f"{source}: top-level keys {', '.join(sorted(doc))}; expected exactly {', '.join(_TOP_KEYS)}"
        )
    stored = doc["sha256"]
    try:
        actual = _checksum({k: doc[k] for k in ("format", "format_version", "signature")})
    except (RecursionError, ValueError) as exc:
        raise SignatureError(
            f"{source}: content cannot be checked ({type(exc).__name__}); not a signature"
        ) from None
    if stored != actual:
        raise SignatureError(
            f"{source}: checksum mismatch (stored sha256 {str(stored)[:12]!r:.20}..., content "
            f"{actual[:12]}...): the file was changed or corrupted after it was written (tampered or "
            "damaged); re-enroll the target or restore the file"
        )
    return _check_content(doc["signature"], source)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed (numbers must be finite)")
