"""Feature front end: FeatureSpec, the numba sliding STFT with mel/linear bands, streaming and offline."""

from detector.features.frontend import FrontEnd, extract
from detector.features.spec import PROFILES, FeatureSpec

__all__ = ["PROFILES", "FeatureSpec", "FrontEnd", "extract"]
