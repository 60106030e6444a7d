"""Ends a local Ray's processes when the ``semlink run`` driver that started them dies.

``ray.init()`` without an address starts the GCS, the raylet, two agents
and the workers as descendants of the driver. When the driver ends normally
or by Ctrl-C, :func:`~semlink.links.ray_executor.run_points_on_ray` kills the
workers and calls ``ray.shutdown()``. When the driver is killed (SIGKILL, the
OOM killer), nothing in it runs any more; measured with
``benchmarks/ray_driver_kill.py`` (Ray 2.60, Linux), the GCS and raylet end at
once (Ray ties them to the driver), the workers within about 3 s, but the
dashboard and runtime-env agents linger about 62 s: they notice the dead
raylet after 2 s, then wait out a 60 s timeout publishing its death to the
dead GCS.

The watchdog is a small separate process (psutil only, no torch or Ray)
started by the driver right after ``ray.init()``. Every :data:`POLL_S`
seconds it records the driver's descendant processes; once the driver is
gone it sends SIGTERM to the last recorded ones still running (identity
checked by psutil, so a reused pid is never hit), SIGKILL after
:data:`GRACE_S` seconds to those still alive, and exits. It runs in its own
session, so a Ctrl-C in the terminal does not reach it, and it stands down
when :func:`stop_watchdog` writes ``stop`` to its stdin after a normal end
(an end of its stdin without ``stop`` means the driver died).

    python -m semlink.links.ray_watchdog DRIVER_PID   # normally started by start_watchdog
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading

#: seconds between two snapshots of the driver's descendants (and checks that it lives)
POLL_S = 0.5
#: seconds between SIGTERM and SIGKILL for processes that outlive the driver
GRACE_S = 1.0
#: what the driver writes to the watchdog's stdin after a normal end
STOP = b"stop\n"


def start_watchdog(driver_pid: int) -> subprocess.Popen:
    """Start the watchdog of ``driver_pid`` (normally this process: ``os.getpid()``).

    :returns: the watchdog process; pass it to :func:`stop_watchdog` after a normal end.
    """
    from semlink.extras import require

    require("psutil", "the Ray driver's watchdog (--executor ray)")
    return subprocess.Popen([sys.executable, "-m", "semlink.links.ray_watchdog", str(driver_pid)],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def stop_watchdog(watchdog: subprocess.Popen, timeout_s: float = 5.0) -> None:
    """End the watchdog after a normal end (it then kills nothing it has not been told to)."""
    try:
        assert watchdog.stdin is not None       # start_watchdog opens it (stdin=PIPE)
        watchdog.stdin.write(STOP)
        watchdog.stdin.close()
        watchdog.wait(timeout=timeout_s)
    except (OSError, subprocess.TimeoutExpired):
        watchdog.kill()
        watchdog.wait()


def end_processes(procs: list, grace_s: float = GRACE_S) -> int:
    """SIGTERM the psutil processes still running, SIGKILL them after ``grace_s``; how many were running."""
    import psutil

    running = []
    for proc in procs:
        try:
            proc.terminate()  # psutil checks the pid still names the same process
            running.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    _, alive = psutil.wait_procs(running, timeout=grace_s)
    for proc in alive:
        try:
            proc.kill()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return len(running)


def watch(driver_pid: int, poll_s: float = POLL_S, grace_s: float = GRACE_S) -> int:
    """Follow ``driver_pid``'s descendants until it dies (then end them) or stdin closes.

    :param poll_s: seconds between snapshots of the descendants.
    :param grace_s: seconds between SIGTERM and SIGKILL.
    :returns: the number of processes found running after the driver's death (0 after a stand-down).
    """
    import psutil

    stand_down = threading.Event()

    def read_stdin() -> None:
        # "stop" from stop_watchdog; a bare end of input: the driver died and its pipe closed
        if sys.stdin.buffer.read() == STOP:
            stand_down.set()

    threading.Thread(target=read_stdin, daemon=True).start()
    try:
        driver = psutil.Process(driver_pid)
    except psutil.NoSuchProcess:
        return 0
    descendants: list = []
    while _alive(driver):
        try:
            descendants = [p for p in driver.children(recursive=True) if p.pid != os.getpid()]
        except psutil.NoSuchProcess:
            break
        if stand_down.wait(poll_s):
            return 0
    return end_processes(descendants, grace_s)


def _alive(proc) -> bool:
    import psutil

    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False

def main(argv: list[str] | None = None) -> int:
    """``python -m semlink.links.ray_watchdog DRIVER_PID``."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or not argv[0].isdigit():
        print("usage: python -m semlink.links.ray_watchdog DRIVER_PID", file=sys.stderr)
        return 2
    watch(int(argv[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
