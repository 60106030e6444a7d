"""Imports every built-in codec module so that it registers in :data:`CODECS`."""

from . import raw  # noqa: F401
from . import deepjscc  # noqa: F401
from . import classical  # noqa: F401
from . import uoisc  # noqa: F401
from . import text_codec  # noqa: F401
