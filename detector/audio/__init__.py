"""Audio input: the sample ring and the sources that fill it (PyAudio capture, files, raw PCM streams)."""

from detector.audio.file_source import FileSource, probe
from detector.audio.pcm_source import PcmStreamSource
from detector.audio.pyaudio_source import PyAudioSource, list_input_devices
from detector.audio.ring import RingBlock, RingStats, SampleRing
from detector.audio.source import Source

__all__ = [
    "FileSource",
    "PcmStreamSource",
    "PyAudioSource",
    "RingBlock",
    "RingStats",
    "SampleRing",
    "Source",
    "list_input_devices",
    "probe",
]
