"""The model sidecar `<name>.json` beside `<name>.tflite`: what the model is, how to feed it, its sha256."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from detector.errors import DetectorError
from detector.features.spec import FeatureSpec

FORMAT_VERSION = 1
KINDS = ("embedding", "classifier", "binary")
DTYPES = ("float32", "int8", "uint8", "int16")
_TOP_KEYS = (
    "format_version",
    "name",
    "kind",
    "feature_spec",
    "input",
    "output",
    "embedding_dim",
    "labels",
    "sha256",
    "training",
    "created",
)


class ModelError(DetectorError):
    """A model file or its sidecar cannot be used: names the file, the key and what was expected."""


def _fail(source: str | None, key: str, value: object, expected: str) -> ModelError:
    where = f"{source}: " if source else ""
    shown = repr(value)
    if len(shown) > 120:
        shown = shown[:117] + "..."
    return ModelError(f"{where}{key}: got {shown}; expected {expected}")


@dataclasses.dataclass(frozen=True)
class TensorInfo:
    """Shape, element type and quantisation of a model input or output tensor.

    Attributes:
        shape: Dimensions, batch first; ``-1`` marks a dimension the model lets the caller choose.
        dtype: Element type name (``float32``, ``int8``, ``uint8`` or ``int16``).
        quantization: ``(scale, zero_point)`` for a quantised tensor (real = scale * (q - zero_point)),
            ``None`` for a float one.
    """

    shape: tuple[int, ...]
    dtype: str
    quantization: tuple[float, int] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: ``{"shape": [...], "dtype": ..., "quantization": [scale, zero_point] | null}``."""
        quant = (
            None if self.quantization is None else [float(self.quantization[0]), int(self.quantization[1])]
        )
        return {"shape": [int(d) for d in self.shape], "dtype": self.dtype, "quantization": quant}

    @classmethod
    def from_dict(cls, data: object, *, source: str | None = None, key: str = "input") -> TensorInfo:
        """Parse and validate the JSON form; errors name ``source`` and ``key``."""
        if not isinstance(data, Mapping):
            raise _fail(source, key, data, "an object with keys shape, dtype, quantization")
        unknown = sorted(set(data) - {"shape", "dtype", "quantization"})
        if unknown:
            raise _fail(
                source, f"{key}.{unknown[0]}", data[unknown[0]], "no such key (shape, dtype, quantization)"
            )
        shape = data.get("shape")
        if (
            not isinstance(shape, list)
            or not shape
            or not all(isinstance(d, int) and not isinstance(d, bool) and (d >= 1 or d == -1) for d in shape)
        ):
            raise _fail(
                source, f"{key}.shape", shape, "a non-empty list of integers >= 1 (or -1 for any size)"
            )
        dtype = data.get("dtype")
        if dtype not in DTYPES:
            raise _fail(source, f"{key}.dtype", dtype, f"one of {', '.join(DTYPES)}")
        quant = data.get("quantization")
        if quant is not None:
            if (
                not isinstance(quant, list)
                or len(quant) != 2
                or not isinstance(quant[0], int | float)
                or isinstance(quant[0], bool)
                or not (math.isfinite(quant[0]) and quant[0] > 0)
                or not isinstance(quant[1], int)
                or isinstance(quant[1], bool)
            ):
                raise _fail(source, f"{key}.quantization", quant, "null or [scale > 0, integer zero_point]")
            quant = (float(quant[0]), int(quant[1]))
        if dtype == "float32" and quant is not None:
            raise _fail(source, f"{key}.quantization", data.get("quantization"), "null for a float32 tensor")
        if dtype != "float32" and quant is None:
            raise _fail(source, f"{key}.quantization", None, f"[scale, zero_point] for a {dtype} tensor")
        return cls(shape=tuple(shape), dtype=dtype, quantization=quant)


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """Everything the sidecar says about a model; ``load_sidecar`` builds it, ``write_sidecar`` saves it.

    Attributes:
        name: Model name (by convention the file stem).
        kind: ``embedding`` (unit vectors for signature scorers), ``classifier`` (softmax over ``labels``)
            or ``binary`` (one sigmoid per label, usually one).
        spec: The feature front end the model was trained on; inputs are ``(patch_frames, n_bands)`` patches.
        input: The model's input tensor, ``[-1|batch, patch_frames, n_bands]``.
        output: The model's output tensor, ``[-1|batch, dim]``.
        sha256: Hex digest of the ``.tflite`` file's bytes.
        embedding_dim: Output size for an embedding model, else ``None``.
        labels: Class names for a classifier or binary model, else ``None``.
        training: Free-form, JSON-serialisable summary of how the model was made (data, epochs, metrics).
        created: ISO-8601 UTC time the sidecar was written.
        format_version: Sidecar format version (``FORMAT_VERSION``).
    """

    name: str
    kind: str
    spec: FeatureSpec
    input: TensorInfo
    output: TensorInfo
    sha256: str
    embedding_dim: int | None = None
    labels: tuple[str, ...] | None = None
    training: Mapping[str, Any] = dataclasses.field(default_factory=dict, hash=False, compare=False)
    created: str = ""
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        # the same checks as for a file, so a ModelInfo is valid however it was made
        ModelInfo.from_dict(self.to_dict(), source="ModelInfo")

    @property
    def output_dim(self) -> int:
        """Values per patch the model outputs (the product of the output's non-batch dimensions)."""
        return math.prod(self.output.shape[1:])

    @property
    def patch_shape(self) -> tuple[int, int]:
        """``(patch_frames, n_bands)``: the shape of one input patch."""
        return self.spec.patch_frames, self.spec.n_bands

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of the sidecar, keys in a fixed order."""
        return {
            "format_version": self.format_version,
            "name": self.name,
            "kind": self.kind,
            "feature_spec": self.spec.to_dict(),
            "input": self.input.to_dict(),
            "output": self.output.to_dict(),
            "embedding_dim": self.embedding_dim,
            "labels": None if self.labels is None else list(self.labels),
            "sha256": self.sha256,
            "training": dict(self.training),
            "created": self.created,
        }

    @classmethod
    def from_dict(cls, data: object, *, source: str | None = None) -> ModelInfo:
        """Parse and validate a sidecar's JSON object; errors name ``source`` and the key.

        Raises:
            ModelError: A key is missing, unknown, or has a value of the wrong type or range, or the
                parts disagree (input vs feature spec, labels or embedding_dim vs output size).
        """
        if not isinstance(data, Mapping):
            raise _fail(source, "<top level>", type(data).__name__, "a JSON object")
        unknown = sorted(set(data) - set(_TOP_KEYS))
        if unknown:
            raise _fail(source, unknown[0], data[unknown[0]], f"no such key (known: {', '.join(_TOP_KEYS)})")
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise _fail(source, "format_version", version, f"{FORMAT_VERSION}")
        for key in ("name", "kind", "feature_spec", "input", "output", "sha256"):
            if key not in data:
                raise _fail(source, key, "<missing>", "the key to be present")
        name = data["name"]
        if not isinstance(name, str) or not name.strip():
            raise _fail(source, "name", name, "a non-empty string")
        kind = data["kind"]
        if kind not in KINDS:
            raise _fail(source, "kind", kind, f"one of {', '.join(KINDS)}")
        try:
            spec = FeatureSpec.from_dict(dict(data["feature_spec"]))
        except (TypeError, ValueError) as exc:
            raise _fail(
                source, "feature_spec", data["feature_spec"], f"a valid FeatureSpec ({exc})"
            ) from None
        inp = TensorInfo.from_dict(data["input"], source=source, key="input")
        out = TensorInfo.from_dict(data["output"], source=source, key="output")
        if len(inp.shape) != 3 or tuple(inp.shape[1:]) != (spec.patch_frames, spec.n_bands):
            raise _fail(
                source,
                "input.shape",
                list(inp.shape),
                f"[batch, {spec.patch_frames}, {spec.n_bands}] (feature_spec patch_frames, n_bands)",
            )
        if len(out.shape) < 2:
            raise _fail(source, "output.shape", list(out.shape), "[batch, dim, ...]")
        if inp.shape[0] != out.shape[0]:
            raise _fail(
                source, "output.shape", list(out.shape), f"the batch size of input.shape ({inp.shape[0]})"
            )
        dim = math.prod(out.shape[1:])
        sha = data["sha256"]
        if not isinstance(sha, str) or len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
            raise _fail(source, "sha256", sha, "64 lower-case hex digits")
        embedding_dim = data.get("embedding_dim")
        labels = data.get("labels")
        if kind == "embedding":
            if isinstance(embedding_dim, bool) or not isinstance(embedding_dim, int) or embedding_dim != dim:
                raise _fail(
                    source, "embedding_dim", embedding_dim, f"{dim} (the output size) for an embedding model"
                )
            if labels is not None:
                raise _fail(source, "labels", labels, "null for an embedding model")
        else:
            if embedding_dim is not None:
                raise _fail(source, "embedding_dim", embedding_dim, f"null for a {kind} model")
            if (
                not isinstance(labels, list)
                or not all(isinstance(label, str) and label for label in labels)
                or len(set(labels)) != len(labels)
            ):
                raise _fail(source, "labels", labels, "a list of distinct non-empty strings")
            if len(labels) != dim:
                raise _fail(
                    source,
                    "labels",
                    labels,
                    f"{dim} labels, one per model output (output.shape {list(out.shape)})",
                )
            if kind == "classifier" and dim < 2:
                raise _fail(source, "labels", labels, "at least 2 labels for a classifier")
            labels = tuple(labels)
        training = data.get("training", {})
        if training is None:
            training = {}
        if not isinstance(training, Mapping):
            raise _fail(source, "training", training, "an object (free-form summary)")
        created = data.get("created", "")
        if not isinstance(created, str):
            raise _fail(source, "created", created, "an ISO-8601 time string")
        return cls.__new_unchecked(
            name=name,
            kind=kind,
            spec=spec,
            input=inp,
            output=out,
            sha256=sha,
            embedding_dim=embedding_dim,
            labels=labels,
            training=dict(training),
            created=created,
            format_version=version,
        )

    @classmethod
    def __new_unchecked(cls, **fields: Any) -> ModelInfo:
        # build without re-running __post_init__ (from_dict has just done the checks)
        obj = object.__new__(cls)
        for key, value in fields.items():
            object.__setattr__(obj, key, value)
        return obj


def sha256_file(path: str | Path) -> str:
    """Hex sha256 digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sidecar_path(model_path: str | Path) -> Path:
    """The sidecar beside a ``.tflite`` (``x.tflite`` -> ``x.json``)."""
    return Path(model_path).with_suffix(".json")


def load_sidecar(path: str | Path) -> ModelInfo:
    """Read and validate a sidecar JSON file.

    Args:
        path: The ``<name>.json`` file.

    Returns:
        The validated ``ModelInfo``.

    Raises:
        ModelError: The file is missing, unreadable, not JSON, or fails validation (the message names
            the file and the key).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelError(
            f"{path}: model sidecar not found (expected the JSON written by `trainer export`)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path}: cannot read model sidecar: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelError(f"{path}: not valid JSON: {exc}") from None
    return ModelInfo.from_dict(data, source=str(path))


def make_info(
    *,
    name: str,
    kind: str,
    spec: FeatureSpec,
    input: TensorInfo,
    output: TensorInfo,
    sha256: str,
    labels: Sequence[str] | None = None,
    training: Mapping[str, Any] | None = None,
    created: str | None = None,
) -> ModelInfo:
    """Build a validated ``ModelInfo``; ``embedding_dim`` follows from the output for an embedding model."""
    dim = math.prod(output.shape[1:])
    return ModelInfo(
        name=name,
        kind=kind,
        spec=spec,
        input=input,
        output=output,
        sha256=sha256,
        embedding_dim=dim if kind == "embedding" else None,
        labels=None if labels is None else tuple(labels),
        training=dict(training or {}),
        created=created or _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    )


def write_sidecar(info: ModelInfo, path: str | Path) -> Path:
    """Write ``info`` as pretty JSON to ``path`` (atomically: a temporary file, then a rename).

    Args:
        info: The model description.
        path: Destination, normally ``<name>.json`` beside ``<name>.tflite``.

    Returns:
        The path written.

    Raises:
        ModelError: ``info.training`` is not JSON-serialisable.
    """
    path = Path(path)
    try:
        text = json.dumps(info.to_dict(), indent=2, allow_nan=False) + "\n"
    except (TypeError, ValueError) as exc:
        raise ModelError(
            f"{path}: training: cannot write as JSON ({exc}); expected plain JSON values"
        ) from None
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path
