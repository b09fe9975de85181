"""TFLite model runner: load `<name>.tflite` + sidecar, check them, run batches of feature patches."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any

import numpy as np

from detector.features.spec import FeatureSpec
from detector.models.sidecar import ModelError, ModelInfo, TensorInfo, load_sidecar, sidecar_path

DEFAULT_MAX_BATCH = 8  # patches per interpreter call (bigger batches are no faster on a CPU)
_NP_DTYPES = {"float32": np.float32, "int8": np.int8, "uint8": np.uint8, "int16": np.int16}


def interpreter_class() -> Any:
    """The TFLite ``Interpreter`` class: ``ai_edge_litert``'s, else ``tflite_runtime``'s.

    Raises:
        ModelError: Neither package is installed.
    """
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter
        except ImportError:
            raise ModelError(
                "no TFLite runtime: install ai-edge-litert (pip install ai-edge-litert), or tflite-runtime "
                "on platforms it does not support"
            ) from None
    return Interpreter


def make_interpreter(content: bytes, *, num_threads: int = 1, source: str = "<model>") -> Any:
    """An interpreter over a ``.tflite`` file's bytes, tensors allocated.

    Args:
        content: The flatbuffer bytes (kept alive by the interpreter).
        num_threads: CPU threads the interpreter may use.
        source: Name for error messages (the file path).

    Raises:
        ModelError: The bytes are not a model this runtime can load (e.g. it needs Flex ops).
    """
    interpreter_cls = interpreter_class()
    try:
        interpreter = interpreter_cls(model_content=content, num_threads=int(num_threads))
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise ModelError(f"{source}: cannot load as a TFLite model: {exc}") from None
    return interpreter


def tensor_info(detail: dict[str, Any]) -> TensorInfo:
    """``TensorInfo`` of an interpreter tensor detail (shape from ``shape_signature``: -1 = any size)."""
    shape = detail.get("shape_signature")
    if shape is None or len(shape) == 0:
        shape = detail["shape"]
    dtype = np.dtype(detail["dtype"]).name
    scale, zero_point = detail.get("quantization", (0.0, 0))
    quant = (float(scale), int(zero_point)) if dtype != "float32" and scale else None
    return TensorInfo(shape=tuple(int(d) for d in shape), dtype=dtype, quantization=quant)


class Model:
    """A loaded TFLite model: ``run`` turns float32 feature patches into float32 outputs.

    One interpreter, not thread-safe: call ``run`` from one thread (the daemon's inference thread).

    Attributes:
        info: The sidecar's ``ModelInfo``.
        path: The ``.tflite`` file.
    """

    def __init__(
        self,
        path: Path,
        content: bytes,
        info: ModelInfo,
        *,
        num_threads: int = 1,
        max_batch: int = DEFAULT_MAX_BATCH,
    ) -> None:
        """Build the interpreter and check it against ``info``; use ``load_model`` rather than this.

        Raises:
            ModelError: The model's tensors disagree with the sidecar.
        """
        if max_batch < 1:
            raise ValueError(f"max_batch: got {max_batch}; expected >= 1")
        self.info = info
        self.path = path
        self._interpreter = make_interpreter(content, num_threads=num_threads, source=str(path))
        inputs = self._interpreter.get_input_details()
        outputs = self._interpreter.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ModelError(
                f"{path}: the model has {len(inputs)} inputs and {len(outputs)} outputs; expected 1 and 1"
            )
        self._in, self._out = inputs[0], outputs[0]
        actual_in, actual_out = tensor_info(self._in), tensor_info(self._out)
        sidecar = sidecar_path(path)
        actual_dim = math.prod(actual_out.shape[1:])
        if info.labels is not None and len(info.labels) != actual_dim:
            raise ModelError(
                f"{sidecar}: labels: {len(info.labels)} labels, but {path.name} outputs {actual_dim} values "
                f"per patch; expected one label per output"
            )
        if info.embedding_dim is not None and info.embedding_dim != actual_dim:
            raise ModelError(
                f"{sidecar}: embedding_dim: says {info.embedding_dim}, "
                f"but {path.name} outputs {actual_dim} values"
            )
        for key, declared, actual in (("input", info.input, actual_in), ("output", info.output, actual_out)):
            if declared.shape != actual.shape or declared.dtype != actual.dtype:
                raise ModelError(
                    f"{sidecar}: {key}: says shape {list(declared.shape)} {declared.dtype}, "
                    f"but {path.name} has {list(actual.shape)} {actual.dtype}; "
                    "the sidecar does not belong to this model"
                )
            if (declared.quantization is None) != (actual.quantization is None) or (
                declared.quantization is not None
                and not np.allclose(declared.quantization, actual.quantization, rtol=1e-6, atol=0)
            ):
                raise ModelError(
                    f"{sidecar}: {key}.quantization: says {declared.quantization}, but {path.name} has "
                    f"{actual.quantization}"
                )
        self._resizable = actual_in.shape[0] == -1
        self._max_batch = int(max_batch) if self._resizable else int(self._in["shape"][0])
        self._batch = int(self._in["shape"][0])  # the batch size the tensors are allocated for now
        self._in_dtype = _NP_DTYPES[actual_in.dtype]
        self._in_quant = actual_in.quantization
        self._out_quant = actual_out.quantization
        self._dim = math.prod(actual_out.shape[1:])

    # ------------------------------------------------------------------ description
    @property
    def spec(self) -> FeatureSpec:
        """The feature front end the model expects."""
        return self.info.spec

    @property
    def kind(self) -> str:
        """``embedding``, ``classifier`` or ``binary``."""
        return self.info.kind

    @property
    def name(self) -> str:
        """The model's name from its sidecar."""
        return self.info.name

    @property
    def sha256(self) -> str:
        """Hex sha256 of the ``.tflite`` file (signatures record it)."""
        return self.info.sha256

    @property
    def output_dim(self) -> int:
        """Values per patch in ``run``'s output."""
        return self._dim

    @property
    def labels(self) -> tuple[str, ...] | None:
        """Class names of a classifier or binary model, ``None`` for an embedding model."""
        return self.info.labels

    def __repr__(self) -> str:
        return (
            f"Model(name={self.name!r}, kind={self.kind!r}, input={list(self.info.input.shape)} "
            f"{self.info.input.dtype}, output_dim={self._dim}, path={str(self.path)!r})"
        )

    # ------------------------------------------------------------------ inference
    def run(self, patches: np.ndarray) -> np.ndarray:
        """Run the model on feature patches.

        Args:
            patches: float32 ``(n, patch_frames, n_bands)`` raw log features from the front end (one
                ``(patch_frames, n_bands)`` patch is taken as ``n = 1``). Normalisation is inside the model.

        Returns:
            float32 ``(n, output_dim)``: embeddings, class probabilities or sigmoid scores (dequantised
            for an int8 model).

        Raises:
            ModelError: ``patches`` has the wrong shape.
        """
        frames, bands = self.info.patch_shape
        x = np.asarray(patches)
        if x.ndim == 2 and x.shape == (frames, bands):
            x = x[None]
        if x.ndim != 3 or x.shape[1:] != (frames, bands):
            raise ModelError(
                f"model {self.name}: patches of shape {tuple(x.shape)}; expected (n, {frames}, {bands}) "
                f"(n patches of patch_frames x n_bands of its feature spec)"
            )
        n = x.shape[0]
        out = np.empty((n, self._dim), dtype=np.float32)
        if n == 0:
            return out
        x = self._quantize(x)
        step = self._max_batch
        for start in range(0, n, step):
            chunk = x[start : start + step]
            out[start : start + len(chunk)] = self._invoke(chunk)
        return out

    def _quantize(self, x: np.ndarray) -> np.ndarray:
        if self._in_quant is None:
            return np.ascontiguousarray(x, dtype=np.float32)
        scale, zero_point = self._in_quant
        info = np.iinfo(self._in_dtype)
        q = np.rint(x.astype(np.float32) / np.float32(scale)) + zero_point
        return np.clip(q, info.min, info.max).astype(self._in_dtype)

    def _invoke(self, chunk: np.ndarray) -> np.ndarray:
        n = len(chunk)
        if self._resizable:
            if n != self._batch:  # resize only when the request size changes: no churn for a steady n
                self._interpreter.resize_tensor_input(self._in["index"], [n, *chunk.shape[1:]], strict=True)
                self._interpreter.allocate_tensors()
                self._batch = n
            padded = chunk
        elif n != self._batch:  # fixed batch: pad the last chunk
            padded = np.zeros((self._batch, *chunk.shape[1:]), dtype=chunk.dtype)
            padded[:n] = chunk
        else:
            padded = chunk
        self._interpreter.set_tensor(self._in["index"], padded)
        self._interpreter.invoke()
        y = self._interpreter.get_tensor(self._out["index"])[:n].reshape(n, -1)
        if self._out_quant is not None:
            scale, zero_point = self._out_quant
            return (y.astype(np.float32) - np.float32(zero_point)) * np.float32(scale)
        return y.astype(np.float32, copy=False)


def resolve_paths(path: str | Path) -> tuple[Path, Path]:
    """``(tflite, sidecar)`` for a path to either file (or to their common stem)."""
    path = Path(path)
    if path.suffix == ".json":
        return path.with_suffix(".tflite"), path
    if path.suffix == ".tflite":
        return path, path.with_suffix(".json")
    return path.with_name(path.name + ".tflite"), path.with_name(path.name + ".json")


def load_model(path: str | Path, *, num_threads: int = 1, max_batch: int = DEFAULT_MAX_BATCH) -> Model:
    """Load a model from ``<name>.tflite`` and its ``<name>.json`` sidecar, checking one against the other.

    Args:
        path: The ``.tflite`` file, its ``.json`` sidecar, or their common path without suffix; the other
            file is looked for beside it.
        num_threads: Interpreter CPU threads (1 on a box that also runs the front end).
        max_batch: Most patches per interpreter call when the model's batch size is free.

    Returns:
        The ``Model``.

    Raises:
        ModelError: A file is missing or unreadable, the sidecar is invalid, the ``.tflite`` file's sha256
            is not the sidecar's, or the sidecar does not describe the model's tensors.
    """
    tflite, sidecar = resolve_paths(path)
    info = load_sidecar(sidecar)
    try:
        content = tflite.read_bytes()
    except FileNotFoundError:
        raise ModelError(f"{tflite}: model file not found (its sidecar {sidecar.name} is there)") from None
    except OSError as exc:
        raise ModelError(f"{tflite}: cannot read model file: {exc}") from None
    actual = hashlib.sha256(content).hexdigest()
    if actual != info.sha256:
        raise ModelError(
            f"{tflite}: sha256 is {actual}, but {sidecar.name} says {info.sha256}: the model file was "
            "changed or the sidecar belongs to another model; re-export it with `trainer export`"
        )
    return Model(tflite, content, info, num_threads=num_threads, max_batch=max_batch)
