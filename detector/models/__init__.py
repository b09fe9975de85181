"""Model runtime: the TFLite runner and the `<name>.json` sidecar (numpy + ai-edge-litert, no TensorFlow)."""

from detector.models.runner import Model, load_model
from detector.models.sidecar import ModelError, ModelInfo, TensorInfo, load_sidecar, write_sidecar

__all__ = ["Model", "ModelError", "ModelInfo", "TensorInfo", "load_model", "load_sidecar", "write_sidecar"]
