"""Loaded signatures: check a `.sig` against the running model, then score embeddings (or patches) to 0..1.

``prototype``, ``ocsvm``, ``gmm`` and ``iforest`` signatures score the *shared embedding*: the daemon runs
the embedding model once per patch and hands the same ``(n, d)`` embeddings to every such signature
(``Signature.score``). A ``binary`` signature carries its own small TFLite head (a Spec-CNN exported with
``kind="binary"``, stored beside the ``.sig``) and needs the *feature patches* instead
(``Signature.score_patches``); ``Signature.needs_patches`` tells which.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from detector.errors import DetectorError
from detector.features.spec import FeatureSpec
from detector.signatures.calibration import Calibration
from detector.signatures.format import SignatureData, SignatureError, read_signature
from detector.signatures.scorers import Scorer, embeddings_matrix, make_scorer

SIGNATURE_SUFFIX = ".sig"


def _short(sha: str) -> str:
    return sha[:12]


def _made_with(data: SignatureData) -> str:
    """How the signature names the model it was made with (its enrollment summary may hold the name)."""
    recorded = data.enrollment.get("model") if isinstance(data.enrollment, dict) else None
    name = recorded if isinstance(recorded, str) and recorded else None
    if name is None and isinstance(recorded, dict) and isinstance(recorded.get("name"), str):
        name = recorded["name"]
    return (
        f"model {name!r} (sha256 {_short(data.model_sha256)})"
        if name
        else f"model sha256 {_short(data.model_sha256)}"
    )


def _spec_differences(recorded: dict[str, Any], spec: FeatureSpec) -> str:
    given = spec.to_dict()
    diffs = [f"{k} {recorded.get(k)!r} vs {given.get(k)!r}" for k in given if recorded.get(k) != given.get(k)]
    return ", ".join(diffs[:6]) + (", ..." if len(diffs) > 6 else "")


class Signature:
    """One target's signature, ready to score.

    Attributes:
        data: The file's content.
        path: The ``.sig`` file (``None`` if built in memory).
    """

    def __init__(
        self, data: SignatureData, *, path: str | Path | None = None, head: Any = None, file_sha256: str = ""
    ) -> None:
        """Build the scorer and calibration from ``data`` (use ``load_signature`` to check a model too).

        Args:
            data: Validated signature content (``read_signature``).
            path: The file it came from, for messages.
            head: For a ``binary`` signature: its loaded head model (``detector.models.Model`` of kind
                ``binary``); ignored otherwise.

        Raises:
            SignatureError: Bad parameters, or a binary signature without its head model.
        """
        self.data = data
        self.path = None if path is None else Path(path)
        self.file_sha256 = file_sha256  # of the .sig file's bytes ("" when built in memory)
        where = f"{self.path}: " if self.path else ""
        try:
            self._calibration = Calibration(data.calibration)
            self._scorer: Scorer | None = (
                None if data.scorer == "binary" else make_scorer(data.scorer, data.params)
            )
        except ValueError as exc:
            raise SignatureError(f"{where}signature {data.name!r}: {exc}") from None
        if data.scorer == "binary" and head is None:
            raise SignatureError(
                f"{where}binary signature {data.name!r} needs its head model "
                f"{data.params.get('model_file')!r}; load it with load_signature"
            )
        self._head = head if data.scorer == "binary" else None

    def __repr__(self) -> str:
        return (
            f"Signature(name={self.name!r}, scorer={self.scorer_kind!r}, threshold={self.threshold}, "
            f"path={None if self.path is None else str(self.path)!r})"
        )

    # ------------------------------------------------------------------ description
    @property
    def name(self) -> str:
        """The target name."""
        return self.data.name

    @property
    def scorer_kind(self) -> str:
        """``prototype``, ``ocsvm``, ``gmm``, ``iforest`` or ``binary``."""
        return self.data.scorer

    @property
    def threshold(self) -> float:
        """Decision threshold on the calibrated 0..1 score."""
        return self.data.threshold

    @property
    def needs_patches(self) -> bool:
        """True for a ``binary`` signature (``score_patches``), False for embedding scorers (``score``)."""
        return self.data.scorer == "binary"

    @property
    def head(self) -> Any:
        """A binary signature's head model (``None`` for embedding scorers)."""
        return self._head

    # ------------------------------------------------------------------ scoring
    def raw(self, embeddings: np.ndarray) -> np.ndarray:
        """The scorer's raw value per embedding (higher = more like the target).

        Args:
            embeddings: float32 ``(n, d)`` from the shared embedding model (one ``(d,)`` is ``n = 1``).

        Returns:
            float64 ``(n,)``.

        Raises:
            SignatureError: A binary signature (it scores patches), or embeddings of the wrong shape.
        """
        if self._scorer is None:
            raise SignatureError(
                f"signature {self.name!r} is binary: it scores feature patches with its own head model; "
                "use score_patches(patches)"
            )
        try:
            x = embeddings_matrix(embeddings, self._scorer.dim, self._scorer.min_dim)
        except ValueError as exc:
            raise SignatureError(f"signature {self.name!r}: {exc}") from None
        return self._scorer.raw(x)

    def score(self, embeddings: np.ndarray) -> np.ndarray:
        """Calibrated confidence per embedding, float64 ``(n,)`` in [0, 1] (compare with ``threshold``).

        Raises:
            SignatureError: As ``raw``.
        """
        return self.calibrate(self.raw(embeddings))

    def raw_patches(self, patches: np.ndarray) -> np.ndarray:
        """A binary signature's head output (sigmoid) per patch, float64 ``(n,)``.

        Args:
            patches: float32 ``(n, patch_frames, n_bands)`` feature patches (the front end's output).

        Raises:
            SignatureError: Not a binary signature, or the head cannot run on ``patches``.
        """
        if self._head is None:
            raise SignatureError(
                f"signature {self.name!r} ({self.scorer_kind}) scores the shared embedding, not patches; "
                "use score(embeddings)"
            )
        try:
            out = self._head.run(patches)
        except DetectorError as exc:
            raise SignatureError(f"signature {self.name!r}: {exc}") from None
        return np.asarray(out, dtype=np.float64)[:, 0]

    def score_patches(self, patches: np.ndarray) -> np.ndarray:
        """Calibrated confidence per patch for a binary signature, float64 ``(n,)`` in [0, 1].

        Raises:
            SignatureError: As ``raw_patches``.
        """
        return self.calibrate(self.raw_patches(patches))

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        """Raw scores -> calibrated confidences in [0, 1] (the signature's calibration)."""
        return self._calibration(raw)


# ---------------------------------------------------------------------------------------------- loading
def _check_model(data: SignatureData, model: Any, source: str) -> None:
    """Refuse a signature made for another model or front end (the message says what to do)."""
    label = f"{source}: signature {data.name!r}"
    spec_recorded = data.feature_spec
    model_desc = f"model {model.name!r} (sha256 {_short(model.sha256)})"
    problems = []
    if data.scorer != "binary":
        if model.kind != "embedding":
            raise SignatureError(
                f"{label} ({data.scorer}) scores embeddings, but {model_desc} is of kind {model.kind}; "
                "run the daemon with the embedding model the signature was enrolled with"
            )
        if data.model_sha256 != model.sha256:
            problems.append(f"was made with {_made_with(data)}, not with {model_desc}")
    if FeatureSpec.from_dict(spec_recorded) != model.spec:
        problems.append(
            f"was made for another feature spec than {model_desc}'s "
            f"({_spec_differences(spec_recorded, model.spec)})"
        )
    if problems:
        raise SignatureError(f"{label} {'; and '.join(problems)}: re-enroll {data.name!r} with this model")
    if data.scorer != "binary":
        scorer = make_scorer(data.scorer, data.params)
        dim = int(model.output_dim)
        if (scorer.dim is not None and scorer.dim != dim) or scorer.min_dim > dim:
            wanted = scorer.dim if scorer.dim is not None else f">= {scorer.min_dim}"
            raise SignatureError(
                f"{label}: its {data.scorer} parameters are for {wanted}-dimensional embeddings, but "
                f"{model_desc} outputs {dim}: re-enroll {data.name!r} with this model"
            )


def _load_head(data: SignatureData, path: Path, model: Any) -> Any:
    """Load and check a binary signature's head model beside its ``.sig``."""
    from detector.models import load_model  # the TFLite runtime only for binary signatures

    label = f"{path}: binary signature {data.name!r}"
    head_path = path.parent / data.params["model_file"]
    given_path = getattr(model, "path", None)
    if (
        model.kind == "binary"
        and model.sha256 == data.model_sha256
        and given_path is not None
        and Path(given_path).resolve() == head_path.resolve()
    ):
        head = model  # the daemon was given the head itself: one interpreter, not two
    else:
        try:
            head = load_model(head_path)
        except DetectorError as exc:
            raise SignatureError(f"{label}: cannot load its head model: {exc}") from None
    if head.kind != "binary":
        raise SignatureError(
            f"{label}: head model {head_path.name} is of kind {head.kind}; expected kind binary"
        )
    if head.sha256 != data.params["model_file_sha256"]:
        raise SignatureError(
            f"{label}: head model {head_path.name} has sha256 {_short(head.sha256)}, the signature expects "
            f"{_short(data.params['model_file_sha256'])}: the head was replaced; re-create the signature"
        )
    if head.spec != FeatureSpec.from_dict(data.feature_spec):
        raise SignatureError(
            f"{label}: head model {head_path.name} uses another feature spec than the signature "
            f"({_spec_differences(data.feature_spec, head.spec)})"
        )
    if head.output_dim != 1:
        raise SignatureError(
            f"{label}: head model {head_path.name} outputs {head.output_dim} values; expected 1 (a sigmoid)"
        )
    return head


def load_signature(path: str | Path, model: Any) -> Signature:
    """Read a ``.sig`` file and check it against the model the daemon runs.

    An embedding-scorer signature must have been made with this very model (same sha256), for its front
    end (same FeatureSpec) and its embedding size. A ``binary`` signature does not use the embedding: only
    its FeatureSpec must equal the model's (the daemon's patches feed its head), and its head model
    ``params["model_file"]`` beside the file must be a ``binary`` model with the recorded sha256 and
    the same FeatureSpec.

    Args:
        path: The ``.sig`` file.
        model: The daemon's loaded model (``detector.models.load_model``): ``.sha256``, ``.spec``,
            ``.kind``, ``.name``, ``.output_dim``.

    Returns:
        The ``Signature``.

    Raises:
        SignatureError: The file is bad (see ``read_signature``), or made for another model or feature
            spec (the message names the signature and both models and says to re-enroll), or a binary
            signature's head model is missing or wrong.
    """
    path = Path(path)
    data = read_signature(path)
    _check_model(data, model, str(path))
    head = _load_head(data, path, model) if data.scorer == "binary" else None
    try:
        file_sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise SignatureError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return Signature(data, path=path, head=head, file_sha256=file_sha256)


def load_signatures(directory: str | Path, model: Any) -> tuple[dict[str, Signature], dict[str, str]]:
    """Load every ``*.sig`` in a directory; a bad file is reported, never raised.

    Args:
        directory: The signatures directory.
        model: The daemon's loaded model (see ``load_signature``).

    Returns:
        ``(signatures, rejected)``: ``{target name: Signature}`` for the good files and
        ``{file path: reason}`` for the others (corrupt, foreign, made for another model, a second
        file for a target name already loaded, ...). Files are read in name order.

    Raises:
        SignatureError: ``directory`` does not exist or is not a directory.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise SignatureError(f"{directory}: signatures directory not found (or not a directory)")
    good: dict[str, Signature] = {}
    origin: dict[str, Path] = {}
    bad: dict[str, str] = {}
    for path in sorted(directory.glob(f"*{SIGNATURE_SUFFIX}")):
        try:
            signature = load_signature(path, model)
        except DetectorError as exc:
            bad[str(path)] = str(exc)
            continue
        except Exception as exc:  # noqa: BLE001 - one bad file must never stop the others
            bad[str(path)] = f"{path}: unexpected error loading signature: {type(exc).__name__}: {exc}"
            continue
        if signature.name in good:
            bad[str(path)] = (
                f"{path}: target {signature.name!r} is already loaded from {origin[signature.name].name}; "
                "keep one signature file per target"
            )
            continue
        good[signature.name] = signature
        origin[signature.name] = path
    return good, bad
