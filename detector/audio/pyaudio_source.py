"""Live capture source: a PyAudio (PortAudio) input stream in callback mode, re-opened if the device fails."""

from __future__ import annotations

import ctypes
import ctypes.util
import time
from types import ModuleType
from typing import Any

import numpy as np
import structlog

from detector.audio.convert import StreamResampler, sanitize, to_float32, to_mono
from detector.audio.ring import SampleRing
from detector.audio.source import Source
from detector.errors import AudioInputError, DeviceNotFoundError

log = structlog.get_logger(__name__)

# sample_format -> (PyAudio format constant name, numpy dtype of the callback's bytes)
SAMPLE_FORMATS = {
    "int16": ("paInt16", np.int16),
    "int32": ("paInt32", np.int32),
    "float32": ("paFloat32", np.float32),
}
WATCH_INTERVAL_SECONDS = 0.1  # how often the supervisor checks the stream
STALL_TIMEOUT_SECONDS = 5.0  # an active stream without a callback for this long is treated as dead


def _import_pyaudio() -> ModuleType:
    try:
        import pyaudio
    except ImportError as exc:
        raise AudioInputError("PyAudio is not installed: pip install 'sigdetect[capture]'") from exc
    _quiet_native_audio_libraries()
    return pyaudio


_NATIVE_HANDLERS: list[Any] = []  # ctypes callbacks kept alive for as long as the libraries may call them


def _quiet_native_audio_libraries() -> None:
    """Stop ALSA and JACK printing to stderr while PortAudio probes every possible device.

    PortAudio's device scan makes libasound and libjack write dozens of lines (missing cards, no JACK
    server) that are not errors of ours; our own log reports what matters (device found or not, re-opens).
    """
    if _NATIVE_HANDLERS:
        return
    try:
        asound = ctypes.CDLL(ctypes.util.find_library("asound") or "libasound.so.2")
        alsa_handler = ctypes.CFUNCTYPE(
            None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p
        )(lambda *args: None)
        asound.snd_lib_error_set_handler(alsa_handler)
        _NATIVE_HANDLERS.append(alsa_handler)
    except (OSError, AttributeError):
        pass  # no ALSA (macOS, say): nothing to quieten
    jack_path = ctypes.util.find_library("jack")
    if jack_path:
        try:
            jack = ctypes.CDLL(jack_path)
            jack_handler = ctypes.CFUNCTYPE(None, ctypes.c_char_p)(lambda message: None)
            jack.jack_set_error_function(jack_handler)
            jack.jack_set_info_function(jack_handler)
            _NATIVE_HANDLERS.append(jack_handler)
        except (OSError, AttributeError):
            pass


def _input_devices(pa: Any) -> list[dict[str, Any]]:
    devices = []
    for i in range(pa.get_device_count()):
        info = pa.get_device_info_by_index(i)
        if int(info["maxInputChannels"]) > 0:
            devices.append(
                {
                    "index": i,
                    "name": str(info["name"]),
                    "max_input_channels": int(info["maxInputChannels"]),
                    "default_sample_rate": float(info["defaultSampleRate"]),
                }
            )
    return devices


def list_input_devices() -> list[dict[str, Any]]:
    """Capture devices PortAudio sees now.

    Returns:
        One dict per device with ``index``, ``name``, ``max_input_channels``, ``default_sample_rate`` (Hz).
    """
    pa = _import_pyaudio().PyAudio()
    try:
        return _input_devices(pa)
    finally:
        pa.terminate()


def _find_device(pa: Any, device: str | int | None) -> dict[str, Any]:
    """PortAudio device info for ``device`` (see ``PyAudioSource``); raises DeviceNotFoundError."""
    devices = _input_devices(pa)
    found: dict[str, Any] | None = None
    if device is None:
        try:
            index = int(pa.get_default_input_device_info()["index"])
        except OSError:
            index = -1
        found = next((d for d in devices if d["index"] == index), None)
    elif isinstance(device, int):
        found = next((d for d in devices if d["index"] == device), None)
    else:
        key = device.casefold()
        exact = [d for d in devices if d["name"].casefold() == key]
        found = (exact or [d for d in devices if key in d["name"].casefold()] or [None])[0]
    if found is None:
        listing = "\n".join(
            f"  {d['index']}: {d['name']} ({d['max_input_channels']} ch, {d['default_sample_rate']:g} Hz)"
            for d in devices
        )
        wanted = "no default input device" if device is None else f"input device {device!r} not found"
        raise DeviceNotFoundError(
            f"{wanted}; expected a name substring or index of one of the available input devices:\n"
            + (listing or "  (none: no capture device detected)")
        )
    return found


class PyAudioSource(Source):
    """Captures from a sound card and writes mono float32 at ``sample_rate`` to the ring.

    The PortAudio callback converts, selects the channel, cleans NaN/inf, resamples and writes to the
    ring (a full ring drops, counted by the ring). The source's thread supervises the stream: if it stops,
    errors or stalls, the stream is closed, PortAudio re-initialised (re-scanning devices) and the device
    re-opened, with exponential back-off between ``reopen_backoff`` bounds, until ``stop()``. The time the
    device was away is skipped on the ring's sample clock (``SampleRing.skip``, measured on the monotonic
    clock), so stream times after an outage stay true to within a callback period.

    Args:
        sample_rate: rate written to the ring, Hz.
        device: case-insensitive name substring (an exact name wins), PortAudio index, or ``None`` for the
            default input. An index may name another device after a re-scan.
        device_rate: capture rate, Hz. ``None``: ``sample_rate`` if the device supports it, else the
            device's default rate; captured audio is resampled to ``sample_rate``.
        channels: channels to capture; ``None``: 1, or ``channel + 1`` when ``channel`` is given.
        channel: 0-based channel to keep; ``None`` averages all captured channels.
        sample_format: ``"int16"``, ``"int32"`` or ``"float32"``.
        frames_per_buffer: frames per callback, at the device rate.
        reopen_backoff: (first, longest) wait before re-opening a failed device, seconds.

    Raises:
        AudioInputError: PyAudio is missing, or the device cannot capture in the requested format.
        DeviceNotFoundError: no such device (the message lists the available ones).
    """

    def __init__(
        self,
        sample_rate: int,
        device: str | int | None = None,
        device_rate: int | None = None,
        channels: int | None = None,
        channel: int | None = None,
        sample_format: str = "int16",
        frames_per_buffer: int = 1024,
        reopen_backoff: tuple[float, float] = (0.5, 30.0),
    ) -> None:
        super().__init__()
        if sample_format not in SAMPLE_FORMATS:
            raise AudioInputError(
                f"unknown capture sample format {sample_format!r}; expected one of {list(SAMPLE_FORMATS)}"
            )
        if channels is None:
            channels = 1 if channel is None else channel + 1
        if channels < 1 or (channel is not None and not 0 <= channel < channels):
            raise AudioInputError(
                f"capture of {channels} channel(s) cannot select channel {channel}; "
                f"expected channels >= 1 and channel 0..{channels - 1}"
            )
        if frames_per_buffer < 1 or not 0 < reopen_backoff[0] <= reopen_backoff[1]:
            raise AudioInputError(
                f"frames_per_buffer must be >= 1 and reopen_backoff (first, longest) > 0 s, "
                f"got {frames_per_buffer} and {reopen_backoff}"
            )
        self._pyaudio = _import_pyaudio()
        self.sample_rate = int(sample_rate)
        self.device = device
        self.device_rate = device_rate
        self.channels = channels
        self.channel = channel
        self.sample_format = sample_format
        self.frames_per_buffer = frames_per_buffer
        self.reopen_backoff = reopen_backoff
        self._pa_format = getattr(self._pyaudio, SAMPLE_FORMATS[sample_format][0])
        self._dtype = SAMPLE_FORMATS[sample_format][1]
        pa = self._pyaudio.PyAudio()
        try:
            info, rate = self._configure(pa)  # fail now, before the daemon starts, if the device is wrong
        finally:
            pa.terminate()
        self.device_name: str = info["name"]
        self.current_rate = rate  # Hz, of the open (or last opened) stream
        self._pa: Any = None
        self._stream: Any = None
        self._ring: SampleRing | None = None
        self._resampler: StreamResampler | None = None
        self._callbacks = 0  # since the last open
        self._last_callback = 0.0  # time.monotonic() of the last callback (stall detection)
        self._last_audio: float | None = None  # time.monotonic() of the last delivered block, across re-opens
        self._resync_from: float | None = None  # set on re-open: skip the outage at the first new block
        self._callback_error: BaseException | None = None
        self._overflows = 0
        self._nonfinite = 0
        self._reopens = 0

    def describe(self) -> str:
        return (
            f"PyAudio input {self.device_name!r} ({self.current_rate:g} Hz, {self.channels} ch, "
            f"{self.sample_format})"
        )

    def stats(self) -> dict[str, int | float | str]:
        return {
            "device": self.device_name,
            "device_rate": self.current_rate,
            "input_overflows": self._overflows,
            "reopens": self._reopens,
            "nonfinite_replaced": self._nonfinite,
        }

    def _configure(self, pa: Any) -> tuple[dict[str, Any], float]:
        """Find the device and a capture rate it supports; raises AudioInputError if there is none."""
        info = _find_device(pa, self.device)
        name = info["name"]
        if self.channels > info["max_input_channels"]:
            raise AudioInputError(
                f"input device {name!r} has {info['max_input_channels']} input channel(s); "
                f"{self.channels} requested"
            )
        rates = [self.device_rate] if self.device_rate else [self.sample_rate, info["default_sample_rate"]]
        for rate in rates:
            try:
                pa.is_format_supported(
                    rate,
                    input_device=info["index"],
                    input_channels=self.channels,
                    input_format=self._pa_format,
                )
                return info, rate
            except ValueError:
                continue
        raise AudioInputError(
            f"input device {name!r} cannot capture {self.channels} channel(s) of {self.sample_format} at "
            f"{' or '.join(f'{r:g}' for r in rates)} Hz"
        )

    # ------------------------------------------------------------------ PortAudio callback thread
    def _callback(self, in_data: bytes, frame_count: int, time_info: dict, status: int) -> tuple[None, int]:
        try:
            self._callbacks += 1
            self._last_callback = time.monotonic()
            if status & self._pyaudio.paInputOverflow:
                self._overflows += 1
            raw = np.frombuffer(in_data, dtype=self._dtype)
            if self.channels > 1:
                raw = raw.reshape(-1, self.channels)
            block, n_bad = sanitize(to_mono(to_float32(raw), self.channel))
            self._nonfinite += n_bad
            out = self._resampler.process(block)
            now = time.monotonic()
            if self._resync_from is not None:
                missing = round((now - self._resync_from) * self.sample_rate) - len(out)
                if missing > 0:
                    self._ring.skip(missing)
                self._resync_from = None
            self._last_audio = now
            self._ring.write(out)
        except Exception as exc:  # noqa: BLE001 - reported by the supervisor, which re-opens
            self._callback_error = exc
            return None, self._pyaudio.paAbort
        return None, self._pyaudio.paContinue

    # ------------------------------------------------------------------ supervisor (the source's thread)
    def _run(self, ring: SampleRing) -> None:
        self._ring = ring
        first, longest = self.reopen_backoff
        delay = first
        try:
            while True:
                try:
                    self._open()
                    reason = self._watch()
                except Exception as exc:  # noqa: BLE001 - a device error: log and retry
                    reason = f"cannot open: {exc}"
                delivered = self._callbacks > 0
                self._close()
                if self._stop.is_set():
                    return
                if delivered:
                    delay = first
                log.warning(
                    "audio capture interrupted; re-opening",
                    device=self.device if self.device is not None else "default",
                    reason=reason,
                    retry_in_s=delay,
                    attempt=self._reopens + 1,
                )
                if self._stop.wait(delay):
                    return
                delay = min(2 * delay, longest)
                self._reopens += 1
        finally:
            self._close()

    def _open(self) -> None:
        self._pa = self._pyaudio.PyAudio()  # a new instance re-scans the devices
        info, rate = self._configure(self._pa)
        self.device_name, self.current_rate = info["name"], rate
        self._resampler = StreamResampler(rate, self.sample_rate)
        self._callbacks, self._callback_error = 0, None
        self._last_callback = time.monotonic()
        self._resync_from = self._last_audio
        self._stream = self._pa.open(
            rate=int(round(rate)),
            channels=self.channels,
            format=self._pa_format,
            input=True,
            input_device_index=info["index"],
            frames_per_buffer=self.frames_per_buffer,
            stream_callback=self._callback,
        )
        if self._reopens:
            log.info("audio device re-opened", device=self.device_name, rate_hz=rate, reopens=self._reopens)

    def _watch(self) -> str | None:
        """Wait until stop() (returns None) or until the stream fails (returns why)."""
        while not self._stop.wait(WATCH_INTERVAL_SECONDS):
            if self._callback_error is not None:
                return f"callback error: {self._callback_error!r}"
            try:
                if not self._stream.is_active():
                    return "stream stopped"
            except OSError as exc:
                return f"stream error: {exc}"
            if time.monotonic() - self._last_callback > STALL_TIMEOUT_SECONDS:
                return f"no audio for {STALL_TIMEOUT_SECONDS:g} s"
        return None

    def _close(self) -> None:
        stream, pa = self._stream, self._pa
        self._stream = self._pa = None
        if stream is not None:
            try:
                stream.close()  # stops the callback thread
            except Exception as exc:  # noqa: BLE001
                log.warning("closing the audio stream failed", device=self.device_name, error=str(exc))
        if pa is not None:
            try:
                pa.terminate()
            except Exception as exc:  # noqa: BLE001
                log.warning("terminating PortAudio failed", device=self.device_name, error=str(exc))
