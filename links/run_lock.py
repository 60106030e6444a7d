"""One writer per output folder: ``DIR/.lock`` holds an exclusive lock and the writer's pid.

The lock is an advisory ``flock`` on an open file, so the operating system
releases it when the process ends in any way (SIGKILL included) and a killed
run never leaves a stale lock. On systems without ``fcntl`` (Windows) no lock
is taken.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO


class OutputLock:
    """Context manager: exclusive writer of ``out_dir``.

    :param out_dir: the run's output folder (created).
    :raises ValueError: another process holds the folder; the message names it and its pid.
    """

    def __init__(self, out_dir: str | Path) -> None:
        self.dir = Path(out_dir)
        self.path = self.dir / ".lock"
        self._file: IO[str] | None = None

    def __enter__(self) -> OutputLock:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            return self
        self.dir.mkdir(parents=True, exist_ok=True)
        f = open(self.path, "a+")
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            pid = f.read().strip() or "unknown"
            f.close()
            raise ValueError(f"another semlink run is writing {str(self.dir)!r} (pid {pid}); "
                             "wait for it to end, or choose another --out folder") from None
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        self._file = f
        return self

    def __exit__(self, *exc) -> None:
        if self._file is not None:
            self._file.close()      # closing the file releases the lock
            self._file = None
