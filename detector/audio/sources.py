"""Pick and build the Source an AudioConfig names: PyAudio capture, an audio file, or a raw PCM stream."""

from __future__ import annotations

import stat
from pathlib import Path

from detector.audio.file_source import FileSource
from detector.audio.pcm_source import PcmStreamSource
from detector.audio.source import Source
from detector.config import AudioConfig

CAPTURE = "capture"
STDIN = "-"
RAW_SUFFIXES = (".raw", ".pcm")


def open_source(audio: AudioConfig, sample_rate: int) -> Source:
    """The source for ``audio.source``, delivering mono float32 at ``sample_rate`` Hz.

    Raises:
        AudioInputError: the file, stream or device cannot be used (the message says why).
    """
    where = audio.source
    if where == CAPTURE:
        from detector.audio.pyaudio_source import PyAudioSource  # optional extra: imported on demand

        cap = audio.capture
        source: Source = PyAudioSource(
            sample_rate,
            device=cap.device,
            device_rate=cap.rate,
            channels=cap.channels,
            channel=cap.channel,
            sample_format=cap.format,
            frames_per_buffer=cap.frames_per_buffer,
            reopen_backoff=(cap.reopen_min_seconds, cap.reopen_max_seconds),
        )
        return source
    pcm = audio.pcm
    if where == STDIN or is_raw_stream(where):
        return PcmStreamSource(
            where,
            in_rate=pcm.rate,
            sample_rate=sample_rate,
            channels=pcm.channels,
            channel=pcm.channel,
            sample_format=pcm.format,
            lossless=where != STDIN and not _is_fifo(where),
        )
    return FileSource(where, sample_rate, channel=audio.channel, realtime=audio.realtime)


def is_raw_stream(where: str) -> bool:
    """True for a named pipe or a .raw/.pcm file: headerless PCM described by ``audio.pcm``."""
    return _is_fifo(where) or Path(where).suffix.lower() in RAW_SUFFIXES


def _is_fifo(where: str) -> bool:
    try:
        return stat.S_ISFIFO(Path(where).stat().st_mode)
    except OSError:
        return False
