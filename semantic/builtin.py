"""Imports every built-in codec module so that it registers in :data:`CODECS`, and
:mod:`.uoisc_stand_in` (the builders of ``stand_in:uoisc``). The package's ``__init__``
imports this module; :mod:`.codec` never does (registration goes one way).
Multi-SC, VLM-CSC and ``query_aware`` import diffusers lazily, on first use."""

from . import (
    classical,  # noqa: F401
    deepjscc,  # noqa: F401
    layered,  # noqa: F401
    query_aware,  # noqa: F401
    raw,  # noqa: F401
    text_codec,  # noqa: F401
    uoisc,  # noqa: F401
    uoisc_stand_in,  # noqa: F401
)
from .multisc import (
    codec as _multisc,  # noqa: F401
    vlmcsc as _vlmcsc,  # noqa: F401
)
