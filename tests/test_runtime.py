"""glibc allocator tuning of simulation processes (``semlink.runtime``)."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

# In a fresh process: optionally tune, then allocate-touch-free a 16 MiB block
# twice and count the page faults of each round. glibc's default serves the
# first block with mmap (threshold 128 KiB at start) and the second from a
# newly grown heap: both rounds fault every page. Tuned, the freed heap block
# is reused: the second round faults (almost) none.
PROBE = textwrap.dedent("""
    import ctypes, json, resource, sys
    from semlink.runtime import tune_malloc, malloc_tuning
    state = tune_malloc() if sys.argv[1] == "tune" else malloc_tuning()
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    faults = []
    for _ in range(2):
        f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        p = libc.malloc(16 << 20)
        ctypes.memset(p, 1, 16 << 20)
        libc.free(p)
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
    print(json.dumps({"state": state, "faults": faults}))
""")

PAGES = (16 << 20) // 4096

glibc = pytest.mark.skipif(not (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc"),
                           reason="mallopt tuning applies to glibc only")


def probe(mode: str, **env) -> dict:
    clean = {k: v for k, v in os.environ.items()
             if k not in ("SEMLINK_MALLOC_TUNING", "MALLOC_MMAP_THRESHOLD_",
                          "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES")}
    out = subprocess.run([sys.executable, "-c", PROBE, mode], env={**clean, **env},
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


@glibc
def test_tuned_process_reuses_freed_heap_instead_of_faulting_new_pages():
    tuned = probe("tune")
    assert tuned["state"] == {"applied": True, "reason": "semlink.runtime.tune_malloc",
                              "mmap_threshold": 32 << 20, "trim_threshold": 2**31 - 1}
    assert tuned["faults"][0] > PAGES // 2            # first touch of new memory
    assert tuned["faults"][1] < PAGES // 20           # reused: no new pages
    untuned = probe("none")
    assert untuned["state"]["applied"] is False
    assert untuned["faults"][1] > PAGES // 2          # the default pays again


@glibc
@pytest.mark.parametrize("env, reason", [
    ({"SEMLINK_MALLOC_TUNING": "0"}, "SEMLINK_MALLOC_TUNING=0"),
    ({"MALLOC_TRIM_THRESHOLD_": "1000000"}, "the user's glibc malloc settings (environment)"),
    ({"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=65536"},
     "the user's glibc malloc settings (environment)")])
def test_opt_out_and_user_settings_win(env, reason):
    out = probe("tune", **env)
    assert out["state"] == {"applied": False, "reason": reason}
    if "SEMLINK_MALLOC_TUNING" in env:
        assert out["faults"][1] > PAGES // 2          # really left at glibc's default


def test_environment_records_the_tuning():
    from semlink.provenance import environment
    from semlink.runtime import malloc_tuning, tune_malloc

    tune_malloc()
    assert tune_malloc() == malloc_tuning()           # idempotent
    assert environment(import_torch=False)["malloc_tuning"] == malloc_tuning()
