"""Training data: clips, synthetic and recorded data sets, augmentation, model input patches.

Modules: ``clips`` (Clip, ClipSet, loading, trimming, splits, folder output), ``lowfeature`` (tones in
noise), ``digits`` (espeak-ng / flite spoken digits), ``debian`` (recorded sounds from Debian packages),
``folders`` (any folder-per-class data set), ``augment`` and ``backgrounds`` (augmentation, background
textures), ``patches`` (model inputs through the daemon's front end), ``commands`` (the CLI).
"""

from trainer.data.clips import Clip, ClipSet, Split, load_audio, trim_silence
from trainer.data.folders import load_folder_dataset

__all__ = ["Clip", "ClipSet", "Split", "load_audio", "load_folder_dataset", "trim_silence"]
