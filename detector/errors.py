"""User-facing error types: each carries a message that says what was wrong and what was expected."""

from __future__ import annotations


class DetectorError(Exception):
    """An error caused by input or environment, reported to the user without a traceback (exit 2)."""

    exit_code = 2


class ConfigError(DetectorError):
    """A configuration file or value is invalid: names the file, the key path, the value, the expectation."""

    def __init__(self, file: str | None, key: str, value: object, expected: str) -> None:
        self.file, self.key, self.value, self.expected = file, key, value, expected
        where = f"{file}: " if file else ""
        super().__init__(f"{where}{key or '<top level>'}: got {value!r}; expected {expected}")


class AudioInputError(DetectorError):
    """An audio file, stream or device cannot be used."""


class DeviceNotFoundError(AudioInputError):
    """The requested capture device does not exist; the message lists the devices that do."""
