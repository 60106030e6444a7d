"""Progress of a sweep: a bar on a terminal, plain lines otherwise.

Without a terminal (logs, ``nohup``, CI) one line per finished point gives
the point, its status, the elapsed time and an ETA; a point that runs long
also reports its images as they finish (at most one line per
:data:`INNER_EVERY_S` seconds), and a stage that runs long (one image's
metrics on a very long caption, say) says which stage it is in, from a
heartbeat thread, at most every :data:`INNER_EVERY_S` seconds.

The plain lines are ``INFO`` records of this module's logger (the ``semlink``
command shows them on stderr; ``semlink run --quiet`` drops them), or go to
the stream a caller passes.
"""

from __future__ import annotations

import logging
import sys
import threading
import time

INNER_EVERY_S = 30.0

log = logging.getLogger(__name__)


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def _snr_text(point) -> str:
    return (f"{point.snr_db:g} dB Es/N0" if point.snr_db is not None
            else f"{point.ebno_db:g} dB Eb/N0")


class Progress:
    """Reports a sweep's progress.

    :param total: points of the scenario; ``already``: done before this run.
    :param todo: points this run evaluates; ``num_images``: images per point.
    :param bar: tqdm bar (default: when stderr is a terminal). Plain lines are
        written whenever stderr is not a terminal.
    :param stream: where the bar and the plain lines go (default: the bar on stderr, the
        lines as ``INFO`` records of the ``semlink.links.progress`` logger).
    """

    def __init__(self, total: int, already: int, todo: int, num_images: int,
                 bar: bool | None = None, stream=None) -> None:
        self.to_log = stream is None
        self.stream = stream or sys.stderr
        tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.lines = not tty
        self.total, self.done, self.todo, self.num_images = total, already, todo, num_images
        self.finished_now = 0
        self.t0 = self.t_point = self.t_line = time.perf_counter()
        self.images_in_point = 0
        self.current = None
        self.stage_name: str | None = None
        self.t_stage = self.t0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._beat = None
        if self.lines:
            self._beat = threading.Thread(target=self._heartbeat, name="semlink-progress",
                                          daemon=True)
            self._beat.start()
        self.bar = None
        if (tty if bar is None else bar):
            from tqdm import tqdm

            self.bar = tqdm(total=todo * num_images, unit="img", desc="sweep", file=self.stream,
                            dynamic_ncols=True)

    def start_point(self, point) -> None:
        with self._lock:
            self.current = point
            self.t_point = self.t_line = time.perf_counter()
            self.images_in_point = 0
            self.stage_name = None
        if self.bar:
            self.bar.set_postfix_str(f"{point.codec.label} / {point.channel.label} / "
                                     f"{_snr_text(point)}")

    def stage(self, name: str) -> None:
        """The current point entered stage ``name`` (``"encode"``, ``"phy"``, ``"decode"``,
        ``"metric cer"``, ...): a stage still running after :data:`INNER_EVERY_S`
        seconds is reported by name."""
        with self._lock:
            self.stage_name, self.t_stage = name, time.perf_counter()

    def _heartbeat(self) -> None:
        while not self._stop.wait(min(1.0, max(INNER_EVERY_S / 4, 0.05))):
            with self._lock:
                now = time.perf_counter()
                if (self.current is None or self.stage_name is None
                        or now - self.t_line < INNER_EVERY_S or now - self.t_stage < INNER_EVERY_S):
                    continue
                self.t_line = now
                text = (f"point {self.done + 1}/{self.total} ({self.current.id}): "
                        f"{self.stage_name} for {_clock(now - self.t_stage)}, "
                        f"{self.images_in_point} of {self.num_images} images done, "
                        f"{_clock(now - self.t_point)} in this point")
            self._print(text)

    def images(self, count: int) -> None:
        """``count`` more images of the current point are done."""
        if self.bar:
            self.bar.update(count)
        self.images_in_point += count
        now = time.perf_counter()
        if (self.lines and self.current is not None and now - self.t_line >= INNER_EVERY_S
                and self.images_in_point < self.num_images):
            self.t_line = now
            self._print(f"point {self.done + 1}/{self.total} ({self.current.id}): "
                        f"{self.images_in_point} of {self.num_images} images, "
                        f"{_clock(now - self.t_point)} in this point")

    def finished(self, point, part: dict) -> None:
        """A point is stored."""
        with self._lock:
            self.done += 1
            self.finished_now += 1
            self.current = None
            self.stage_name = None
        if not self.lines:
            return
        elapsed = time.perf_counter() - self.t0
        left = self.todo - self.finished_now
        eta = _clock(elapsed / self.finished_now * left) if self.finished_now else "?"
        status = "ok" if part.get("status") == "ok" else "FAILED"
        self._print(f"point {self.done}/{self.total} {status}: {point.id} {point.codec.label} / "
                    f"{point.channel.label} / {_snr_text(point)}; elapsed {_clock(elapsed)}, "
                    f"ETA {eta}")

    def close(self) -> None:
        self._stop.set()
        if self._beat is not None:
            self._beat.join(timeout=5)
            self._beat = None
        if self.bar:
            self.bar.close()
            self.bar = None

    def _print(self, text: str) -> None:
        if self.to_log:
            log.info("semlink run: %s", text)
        else:
            print(f"semlink run: {text}", file=self.stream, flush=True)
