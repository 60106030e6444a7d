"""Imports every built-in codec module so that it registers in :data:`CODECS`."""

from . import raw  # noqa: F401
from . import deepjscc  # noqa: F401
from . import classical  # noqa: F401
from . import uoisc  # noqa: F401
from . import text_codec  # noqa: F401
from . import layered  # noqa: F401
from .multisc import codec as _multisc  # noqa: F401,E402  (multisc; imports diffusers lazily)
from .multisc import vlmcsc as _vlmcsc  # noqa: F401,E402  (vlmcsc)
from . import query_aware  # noqa: F401,E402  (query_aware; imports diffusers lazily)
from . import uoisc_stand_in  # noqa: F401,E402  (supplies the builders of stand_in:uoisc)
