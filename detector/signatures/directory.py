"""The signatures directory: load it, notice added/changed/removed files, and install or remove one safely.

The daemon polls ``changed()`` (a cheap scan of names, sizes and modification times) and calls
``load()`` when something changed or on SIGHUP. Remote enrollment goes through ``install`` and
``remove``: a payload is checked exactly as the loader would check it (format, checksum, model sha256,
FeatureSpec) before it is written atomically as ``<target>.sig``, so a bad payload never reaches the
directory and a reader never sees half a file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import structlog

from detector.errors import DetectorError
from detector.signatures.format import SignatureError, validate_name
from detector.signatures.signature import SIGNATURE_SUFFIX, Signature, load_signature, load_signatures

log = structlog.get_logger("detector")


class SignatureDirectory:
    """A directory of ``<target>.sig`` files for one model."""

    def __init__(self, path: str | Path, model: Any) -> None:
        """Args: path: The directory (created when missing). model: The daemon's loaded model."""
        self.path = Path(path)
        self.model = model
        self._seen: dict[str, tuple[int, int]] = {}
        self.rejected: dict[str, str] = {}

    def _scan(self) -> dict[str, tuple[int, int]]:
        out: dict[str, tuple[int, int]] = {}
        try:
            entries = list(os.scandir(self.path))
        except OSError:
            return out
        for entry in entries:
            if not entry.name.endswith(SIGNATURE_SUFFIX) and not entry.name.endswith(".tflite"):
                continue
            try:
                st = entry.stat()
            except OSError:
                continue
            out[entry.name] = (st.st_size, st.st_mtime_ns)
        return out

    def changed(self) -> bool:
        """True when files were added, changed or removed since the last ``load``."""
        return self._scan() != self._seen

    def load(self) -> dict[str, Signature]:
        """Load every good signature; bad files are logged once per change and kept in ``rejected``."""
        self._seen = self._scan()
        if not self.path.is_dir():
            log.warning("signatures_directory_missing", path=str(self.path))
            self.rejected = {}
            return {}
        good, bad = load_signatures(self.path, self.model)
        for file, reason in bad.items():
            if self.rejected.get(file) != reason:
                log.error("signature_rejected", file=file, reason=reason)
        self.rejected = bad
        return good

    def install(self, target: str, payload: bytes) -> tuple[bool, str]:
        """Check ``payload`` as a ``.sig`` for ``target`` and write it as ``<target>.sig`` atomically.

        Returns:
            ``(ok, message)``; never raises for a bad payload.
        """
        try:
            validate_name(target)
        except SignatureError as exc:
            return False, str(exc)
        self.path.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target}.", suffix=".incoming", dir=self.path)
        tmp_path = Path(tmp)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(payload)
                f.flush()
                os.fsync(f.fileno())
            try:
                signature = load_signature(tmp_path, self.model)
            except DetectorError as exc:
                return False, f"rejected: {exc}".replace(str(tmp_path), "payload")
            except Exception as exc:  # noqa: BLE001 - any payload problem is a rejection
                return False, f"rejected: {type(exc).__name__}: {exc}".replace(str(tmp_path), "payload")
            if signature.name != target:
                return False, f"rejected: the payload is a signature for {signature.name!r}, not {target!r}"
            if signature.needs_patches:
                return False, (
                    "rejected: a binary signature needs its head model file beside it; "
                    "copy the .sig and its .tflite/.json into the signatures directory instead"
                )
            os.replace(tmp_path, self.path / f"{target}{SIGNATURE_SUFFIX}")
            return True, f"installed {target}{SIGNATURE_SUFFIX} ({signature.scorer_kind})"
        finally:
            tmp_path.unlink(missing_ok=True)

    def remove(self, target: str) -> tuple[bool, str]:
        """Delete ``<target>.sig``; ``(ok, message)``."""
        try:
            validate_name(target)
        except SignatureError as exc:
            return False, str(exc)
        path = self.path / f"{target}{SIGNATURE_SUFFIX}"
        try:
            path.unlink()
        except FileNotFoundError:
            return False, f"no signature for {target!r} in {self.path}"
        except OSError as exc:
            return False, f"cannot delete {path.name}: {exc.strerror or exc}"
        return True, f"deleted {path.name}"
