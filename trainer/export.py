"""Keras model -> `<name>.tflite` (builtin ops only; float32 or full-integer int8) + `<name>.json` sidecar."""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from detector.features.spec import FeatureSpec
from detector.models.runner import make_interpreter, tensor_info
from detector.models.sidecar import KINDS, ModelError, ModelInfo, make_info, sidecar_path, write_sidecar
from trainer.errors import ExportError

QUANTIZE_MODES = ("float32", "int8")
MAX_CALIBRATION_PATCHES = 500  # representative patches used for int8 calibration (a random subset beyond)
_FLEX_HINT = (
    "the model must use TFLite builtin ops only: build recurrent layers with unroll=True, use "
    "tf.math.l2_normalize rather than custom math, and avoid tf ops without a TFLite kernel"
)


def builtin_op_names(tflite: bytes) -> list[str]:
    """Names of the operators a ``.tflite`` flatbuffer uses (``CUSTOM:<code>`` for custom ops, incl. Flex).

    Args:
        tflite: The flatbuffer bytes.
    """
    from ai_edge_litert import schema_py_generated as schema

    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    model = schema.ModelT.InitFromPackedBuf(tflite, 0)
    out = []
    for code in model.operatorCodes or []:
        op = max(int(code.builtinCode), int(code.deprecatedBuiltinCode))
        name = names.get(op, f"BUILTIN_{op}")
        if name == "CUSTOM":
            custom = code.customCode.decode() if isinstance(code.customCode, bytes) else str(code.customCode)
            name = f"CUSTOM:{custom}"
        out.append(name)
    return out


def _flex_ops_in(tflite: bytes) -> list[str]:
    return sorted(
        {
            name.removeprefix("CUSTOM:").removeprefix("Flex")
            for name in builtin_op_names(tflite)
            if name.startswith("CUSTOM:")
        }
    )


def _ops_in_message(message: str) -> list[str]:
    """TF op names a converter error message mentions (``tf.Foo`` / ``FlexFoo``)."""
    found = set(re.findall(r"\bFlex([A-Z]\w+)", message))
    found |= set(re.findall(r"'tf\.([A-Za-z]\w*)' op", message))
    return sorted(found)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the SavedModel export's Python-level chatter (signature printout, "Assets written to")."""
    tf_logger = logging.getLogger("tensorflow")
    level = tf_logger.level
    tf_logger.setLevel(max(level, logging.WARNING))
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        tf_logger.setLevel(level)


def _representative(x: np.ndarray, seed: int = 0) -> Any:
    if len(x) > MAX_CALIBRATION_PATCHES:
        keep = np.sort(np.random.default_rng(seed).choice(len(x), MAX_CALIBRATION_PATCHES, replace=False))
        x = x[keep]

    def gen() -> Iterator[list[np.ndarray]]:
        for patch in x:
            yield [patch[None].astype(np.float32)]

    return gen


def _convert(
    saved_model_dir: str, *, quantize: str, representative: np.ndarray | None, select: bool
) -> bytes:
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir)
    if select:  # diagnosis only: lets the converter say which TF ops the model needs
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
        converter._experimental_lower_tensor_list_ops = False
    elif quantize == "int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = _representative(representative)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    else:
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    return converter.convert()


def convert(
    keras_model: Any,
    *,
    quantize: str = "float32",
    representative: np.ndarray | None = None,
    batch_size: int | None = None,
) -> bytes:
    """Convert a Keras model to a TFLite flatbuffer with builtin ops only.

    Args:
        keras_model: A Keras 3 model with one input and one output.
        quantize: ``float32``, or ``int8`` (full-integer: int8 input, weights, activations and output,
            calibrated on ``representative``).
        representative: Patches ``(n, patch_frames, n_bands)`` for int8 calibration.
        batch_size: A fixed batch size (for delegates that need static shapes); ``None``: any batch.

    Returns:
        The flatbuffer bytes.

    Raises:
        ExportError: The model needs ops outside TFLite's builtin set (the message lists them) or the
            conversion fails otherwise.
    """
    if quantize not in QUANTIZE_MODES:
        raise ExportError(f"quantize: got {quantize!r}; expected one of {', '.join(QUANTIZE_MODES)}")
    with tempfile.TemporaryDirectory(prefix="sigdetect-export-") as tmp:
        saved = os.path.join(tmp, "saved_model")
        signature = None
        if batch_size is not None:
            import tensorflow as tf

            shape = (int(batch_size), *tuple(keras_model.inputs[0].shape[1:]))
            signature = [tf.TensorSpec(shape, tf.float32, name="patches")]
        with _quiet():
            keras_model.export(saved, format="tf_saved_model", verbose=False, input_signature=signature)
        try:
            content = _convert(saved, quantize=quantize, representative=representative, select=False)
        except Exception as exc:  # the converter raises ConverterError, RuntimeError, ValueError...
            message = str(exc)
            try:  # diagnose: which TF ops would the model need from the Flex delegate?
                ops = _flex_ops_in(_convert(saved, quantize="float32", representative=None, select=True))
            except Exception:
                ops = _ops_in_message(message)
            if ops:
                raise ExportError(
                    f"model {keras_model.name!r} needs TensorFlow ops that TFLite has no builtin kernel for: "
                    f"{', '.join(ops)}; refusing to export a Flex model ({_FLEX_HINT})"
                ) from None
            lines = [line for line in message.splitlines() if "error" in line.lower()] or message.splitlines()
            raise ExportError(
                f"model {keras_model.name!r}: TFLite conversion ({quantize}) failed: "
                + " | ".join(line.strip() for line in lines[:3])[:1500]
            ) from None
    custom = [name for name in builtin_op_names(content) if name.startswith("CUSTOM:")]
    if custom:
        raise ExportError(
            f"model {keras_model.name!r}: converted with non-builtin ops {', '.join(custom)}; "
            f"refusing ({_FLEX_HINT})"
        )
    return content


def export_tflite(
    keras_model: Any,
    out_path: str | Path,
    *,
    kind: str,
    spec: FeatureSpec,
    name: str | None = None,
    representative: np.ndarray | None = None,
    quantize: str = "float32",
    labels: Sequence[str] | None = None,
    training: Mapping[str, Any] | None = None,
    batch_size: int | None = None,
) -> ModelInfo:
    """Convert ``keras_model`` to ``out_path`` (``.tflite``) and write its sidecar ``.json`` beside it.

    Args:
        keras_model: One input ``(None, spec.patch_frames, spec.n_bands)`` of raw log features, one
            output ``(None, dim)``; any input normalisation inside the model.
        out_path: The ``.tflite`` path (the suffix is added if missing).
        kind: ``embedding``, ``classifier`` or ``binary``.
        spec: The FeatureSpec the model was trained on.
        name: Model name for the sidecar (default: the file stem).
        representative: Patches ``(n, patch_frames, n_bands)`` for int8 calibration (required for int8;
            a few hundred from the training data).
        quantize: ``float32`` or ``int8``.
        labels: Class names (classifier: one per output; binary: default ``["positive"]``).
        training: JSON-serialisable training summary for the sidecar.
        batch_size: Fix the batch size (static shapes for some delegates); default: any batch size
            (the runner batches up to its ``max_batch``).

    Returns:
        The ``ModelInfo`` written to the sidecar.

    Raises:
        ExportError: Bad arguments, shapes that disagree with ``spec``, ops outside TFLite's builtin set,
            or a failed conversion.
    """
    if kind not in KINDS:
        raise ExportError(f"kind: got {kind!r}; expected one of {', '.join(KINDS)}")
    if quantize not in QUANTIZE_MODES:
        raise ExportError(f"quantize: got {quantize!r}; expected one of {', '.join(QUANTIZE_MODES)}")
    out_path = Path(out_path)
    if out_path.suffix != ".tflite":
        out_path = out_path.with_name(out_path.name + ".tflite")
    name = name or out_path.stem
    frames, bands = spec.patch_frames, spec.n_bands
    if len(keras_model.inputs) != 1 or len(keras_model.outputs) != 1:
        raise ExportError(
            f"model {keras_model.name!r} has {len(keras_model.inputs)} inputs and {len(keras_model.outputs)} "
            f"outputs; expected 1 and 1"
        )
    in_shape = tuple(keras_model.inputs[0].shape)
    if in_shape[1:] != (frames, bands):
        raise ExportError(
            f"model {keras_model.name!r} takes input {in_shape}; expected (None, {frames}, {bands}) "
            f"(patch_frames, n_bands of the feature spec)"
        )
    out_shape = tuple(keras_model.outputs[0].shape)
    if len(out_shape) != 2:
        raise ExportError(f"model {keras_model.name!r} has output {out_shape}; expected (None, dim)")
    dim = int(out_shape[1])
    if kind == "binary" and labels is None:
        labels = ["positive"] if dim == 1 else None
    if kind != "embedding":
        if labels is None:
            raise ExportError(f"labels: needed for a {kind} model ({dim} outputs); got none")
        labels = [str(label) for label in labels]
        if len(labels) != dim:
            raise ExportError(
                f"labels: got {len(labels)} ({', '.join(labels)}); expected {dim}, one per output"
            )
    elif labels is not None:
        raise ExportError("labels: given for an embedding model; expected none")
    if quantize == "int8":
        if representative is None:
            raise ExportError("representative: int8 export needs representative patches (e.g. training data)")
        representative = np.asarray(representative, dtype=np.float32)
        if (
            representative.ndim != 3
            or representative.shape[1:] != (frames, bands)
            or len(representative) == 0
        ):
            raise ExportError(
                f"representative: got shape {representative.shape}; expected (n >= 1, {frames}, {bands})"
            )

    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1
    ):
        raise ExportError(f"batch_size: got {batch_size!r}; expected None or an integer >= 1")
    content = convert(keras_model, quantize=quantize, representative=representative, batch_size=batch_size)
    try:
        interpreter = make_interpreter(content, num_threads=1, source=str(out_path))
    except ModelError as exc:
        raise ExportError(f"the converted model does not load in the TFLite runtime: {exc}") from None
    inp = tensor_info(interpreter.get_input_details()[0])
    out = tensor_info(interpreter.get_output_details()[0])
    summary = dict(training or {})
    summary.setdefault("quantize", quantize)
    summary.setdefault("keras_model", keras_model.name)
    summary.setdefault("params", int(keras_model.count_params()))
    summary.setdefault("tflite_bytes", len(content))
    try:
        info = make_info(
            name=name,
            kind=kind,
            spec=spec,
            input=inp,
            output=out,
            sha256=hashlib.sha256(content).hexdigest(),
            labels=labels,
            training=summary,
        )
    except ModelError as exc:
        raise ExportError(f"cannot describe the converted model: {exc}") from None
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".tmp")
    tmp.write_bytes(content)
    tmp.replace(out_path)
    write_sidecar(info, sidecar_path(out_path))
    return info
