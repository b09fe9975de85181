"""Target signatures: the `.sig` file format, numpy scorers and calibration, loading, ambient adaptation.

No scikit-learn or TensorFlow at run time: the scorers reproduce scikit-learn's numbers in numpy, and a
``binary`` signature's head runs in the TFLite runtime like the embedding model.
"""

from detector.signatures.adaptive import AmbientNormaliser
from detector.signatures.format import (
    FORMAT_VERSION,
    SignatureData,
    SignatureError,
    read_signature,
    validate_name,
    write_signature,
)
from detector.signatures.signature import Signature, load_signature, load_signatures

__all__ = [
    "FORMAT_VERSION",
    "AmbientNormaliser",
    "Signature",
    "SignatureData",
    "SignatureError",
    "load_signature",
    "load_signatures",
    "read_signature",
    "validate_name",
    "write_signature",
]
