"""Process-wide settings for simulation processes: glibc's allocator.

torch's CPU kernels allocate and free buffers of a few MiB at every step of
the LDPC decoder. glibc serves allocations above its *dynamic* mmap
threshold with fresh ``mmap`` pages and returns memory at the top of the
heap beyond its trim threshold to the system; which of the decoder's
buffers fall on which side depends on what the process allocated before. So
the same decoder call pays a varying number of page faults: measured on
this project's CPU machine (``docs/benchmarks.md``, "PHY throughput"), the
same 100-word 20-iteration decoding ran up to 25 % slower, with 2 to 5 times
the page faults, in some processes than in others.

:func:`tune_malloc` fixes both thresholds (``mallopt``: mmap threshold
32 MiB, glibc's largest; trim threshold 2 GiB - 1), so buffers up to 32 MiB
are reused from the heap: every process then runs at the fast end. The
cost is memory: up to 2 GiB of freed heap is kept by the process instead of
being returned (its peak RSS is unchanged). ``semlink`` commands and Ray
workers call it at start; a script using the library may call it first
thing. It does nothing on a C library other than glibc, when
``SEMLINK_MALLOC_TUNING=0``, or when the user already set glibc's malloc
knobs (``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_`` or
``glibc.malloc`` in ``GLIBC_TUNABLES``), which take precedence.
"""

from __future__ import annotations

import os
import sys

#: ``mallopt`` parameter numbers (glibc ``malloc.h``)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
#: glibc's largest mmap threshold on 64-bit systems (``DEFAULT_MMAP_THRESHOLD_MAX``)
MMAP_THRESHOLD = 32 * 1024 * 1024
#: ``mallopt`` takes a C int
TRIM_THRESHOLD = 2**31 - 1

_state: dict | None = None


def _libc() -> str:
    try:
        return os.confstr("CS_GNU_LIBC_VERSION") or ""      # "glibc 2.36"
    except (AttributeError, ValueError, OSError):
        return ""


def malloc_tuning() -> dict:
    """What :func:`tune_malloc` did in this process (recorded in results files).

    :returns: ``{"applied": bool, "reason": str}`` plus the two thresholds
        (bytes) when applied.
    """
    return dict(_state) if _state is not None else {"applied": False, "reason": "not requested"}


def describe_malloc_tuning() -> str:
    """One line for logs and benchmark headers: ``"malloc tuning on"`` or ``"... off (why)"``."""
    state = malloc_tuning()
    return "malloc tuning on" if state["applied"] else f"malloc tuning off ({state['reason']})"


def tune_malloc() -> dict:
    """Fix glibc's mmap and trim thresholds for this process (see the module doc).

    Idempotent; call it before heavy allocation (it only affects later ones).

    :returns: :func:`malloc_tuning`.
    """
    global _state
    if _state is not None:
        return malloc_tuning()
    if os.environ.get("SEMLINK_MALLOC_TUNING", "1").strip().lower() in ("0", "false", "no", "off"):
        _state = {"applied": False, "reason": "SEMLINK_MALLOC_TUNING=0"}
    elif (os.environ.get("MALLOC_MMAP_THRESHOLD_") or os.environ.get("MALLOC_TRIM_THRESHOLD_")
          or "glibc.malloc" in os.environ.get("GLIBC_TUNABLES", "")):
        _state = {"applied": False, "reason": "the user's glibc malloc settings (environment)"}
    elif not _libc().startswith("glibc"):
        _state = {"applied": False, "reason": f"not glibc ({sys.platform}, {_libc() or 'unknown libc'})"}
    else:
        import ctypes

        try:
            libc = ctypes.CDLL(None)
            ok = libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
            ok = libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1 and ok
        except (OSError, AttributeError) as exc:
            ok, why = False, f"mallopt unavailable: {exc}"
        else:
            why = "mallopt refused a value"
        _state = ({"applied": True, "reason": "semlink.runtime.tune_malloc",
                   "mmap_threshold": MMAP_THRESHOLD, "trim_threshold": TRIM_THRESHOLD}
                  if ok else {"applied": False, "reason": why})
    return malloc_tuning()
