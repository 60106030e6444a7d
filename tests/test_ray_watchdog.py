"""The Ray driver's watchdog: a killed driver's descendants end; a normal end kills nothing.

Ray itself is not started here (that takes tens of seconds): a stand-in driver
starts a child with a grandchild of its own (as the raylet starts the agents,
which outlive a killed driver by about 62 s without the watchdog) and the
watchdog, exactly as :func:`~semlink.links.ray_executor.run_points_on_ray`
does. ``benchmarks/ray_driver_kill.py`` measures the real Ray processes.
"""

import json
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from semlink.links.ray_watchdog import GRACE_S, POLL_S, end_processes

_DRIVER = """
import json, os, subprocess, sys, time
from semlink.links.ray_watchdog import start_watchdog, stop_watchdog
child = subprocess.Popen([sys.executable, "-c",
    "import subprocess, sys, time; g = subprocess.Popen(['sleep', '120']); "
    "print(g.pid, flush=True); time.sleep(120)"],
    stdout=subprocess.PIPE, text=True)
grandchild = int(child.stdout.readline())
watchdog = start_watchdog(os.getpid())
time.sleep({settle})  # let the watchdog record the descendants
print(json.dumps({{"child": child.pid, "grandchild": grandchild, "watchdog": watchdog.pid}}), flush=True)
if {normal_end}:
    stop_watchdog(watchdog)
    print("stopped", flush=True)
time.sleep(120)
"""


def _start_driver(normal_end: bool) -> tuple[subprocess.Popen, dict]:
    driver = subprocess.Popen([sys.executable, "-c", _DRIVER.format(settle=3 * POLL_S,
                                                                     normal_end=normal_end)],
                              stdout=subprocess.PIPE, text=True)
    return driver, json.loads(driver.stdout.readline())


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _cleanup(*pids: int) -> None:
    for pid in pids:
        if _running(pid):
            os.kill(pid, signal.SIGKILL)


def test_killed_driver_descendants_end():
    driver, pids = _start_driver(normal_end=False)
    try:
        assert _running(pids["grandchild"]) and _running(pids["watchdog"])
        driver.send_signal(signal.SIGKILL)
        driver.wait()
        t0 = time.monotonic()
        limit = POLL_S + GRACE_S + 5.0
        while time.monotonic() - t0 < limit and any(map(_running, pids.values())):
            time.sleep(0.1)
        # the grandchild was reparented away from the driver's tree and still ended
        assert not any(map(_running, pids.values())), f"alive {limit:.1f} s after SIGKILL: {pids}"
    finally:
        _cleanup(driver.pid, *pids.values())


def test_normal_end_stands_down():
    driver, pids = _start_driver(normal_end=True)
    try:
        assert driver.stdout.readline().strip() == "stopped"
        assert not _running(pids["watchdog"])
        driver.send_signal(signal.SIGKILL)  # the watchdog is gone: nothing ends the child now
        driver.wait()
        time.sleep(POLL_S + GRACE_S + 0.5)
        assert _running(pids["child"]) and _running(pids["grandchild"])
    finally:
        _cleanup(driver.pid, *pids.values())


def test_end_processes_kills_what_ignores_sigterm():
    proc = subprocess.Popen([sys.executable, "-c", "import signal, sys, time; "
                             "signal.signal(signal.SIGTERM, signal.SIG_IGN); print(1, flush=True); "
                             "time.sleep(60)"], stdout=subprocess.PIPE)
    proc.stdout.readline()
    t0 = time.monotonic()
    assert end_processes([psutil.Process(proc.pid)], grace_s=0.5) == 1
    assert proc.wait(timeout=5) == -signal.SIGKILL
    assert time.monotonic() - t0 < 5


@pytest.mark.parametrize("argv", [[], ["x"], ["1", "2"]])
def test_bad_arguments(argv):
    res = subprocess.run([sys.executable, "-m", "semlink.links.ray_watchdog", *argv],
                         capture_output=True, text=True)
    assert res.returncode == 2 and "usage" in res.stderr
