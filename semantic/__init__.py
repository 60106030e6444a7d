"""semlink.semantic: source codecs (classical, JSCC, semantic) and their interface."""

from . import builtin  # noqa: F401  (registers built-in codecs)
from .codec import CODECS, Codec, make_codec
from .payload import Payload, ReceivedPayload, Reconstruction, Stream, StreamReport
from .raw import AnalogPixels, RawPixels

__all__ = ["CODECS", "Codec", "make_codec", "Payload", "ReceivedPayload", "Reconstruction",
           "Stream", "StreamReport", "AnalogPixels", "RawPixels"]
