"""sigdetect runtime: stream audio, compute features, score enrolled sound signatures, publish events."""

__version__ = "0.1.0"
