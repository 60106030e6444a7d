"""Logging: the library logs, the ``semlink`` command shows it.

Every module logs to its own logger (``logging.getLogger(__name__)``, so
``semlink.links.runner``, ``semlink.phy.ldpc_triton``, ...), all children of
the ``semlink`` logger. The library never configures handlers: it only adds a
:class:`logging.NullHandler` to ``semlink`` (in ``semlink/__init__.py``), so
an application that configures no logging sees nothing (Python's last-resort
handler is not used), and one that does decides what is shown and where::

    import logging
    logging.basicConfig(level=logging.INFO)                     # show progress and warnings
    logging.getLogger("semlink").setLevel(logging.ERROR)        # or: errors only
    logging.getLogger("semlink").addHandler(logging.FileHandler("semlink.log"))  # or: to a file

Levels: ``INFO`` for progress (a sweep's point lines, a fetched file),
``WARNING`` for something the user should act on (a metric skipped, a model
that is a random-weight stand-in, a batch close to the memory limit),
``DEBUG`` for diagnostics. Messages written for ``semlink run`` keep the
``semlink run:`` prefix they always had, so a log read outside the command
still says which stage spoke.

The command line (:func:`semlink.links.cli.main`) attaches one handler for the
duration of a command (:func:`cli_handler`): messages on stderr, exactly as
written (no level or time stamp), ``INFO`` and above by default, ``WARNING``
and above with ``--quiet``, everything with ``--verbose``. A command's product
(``--json``, tables, file lists) is printed on stdout and is not a log.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator, Mapping

#: The logger every semlink module's logger descends from.
ROOT = "semlink"

#: ``--quiet`` / default / ``--verbose`` -> the level the command shows.
CLI_LEVELS = {"quiet": logging.WARNING, "normal": logging.INFO, "verbose": logging.DEBUG}


class _StderrHandler(logging.StreamHandler):
    """A stream handler writing to whatever ``sys.stderr`` is when a record is emitted
    (so a caller, or pytest's capture, that swaps ``sys.stderr`` sees the lines)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)

    def flush(self) -> None:
        self.stream = sys.stderr
        super().flush()


class CliFormatter(logging.Formatter):
    """The message as written, preceded by a per-logger prefix where one is set.

    :param prefixes: logger name -> text put before its messages (e.g.
        ``{"semlink.data_fetch": "semlink data: "}``); a logger's children share its prefix.
    """

    def __init__(self, prefixes: Mapping[str, str] | None = None) -> None:
        super().__init__("%(message)s")
        self.prefixes = dict(prefixes or {})

    def _prefix(self, name: str) -> str:
        while name:
            if name in self.prefixes:
                return self.prefixes[name]
            name = name.rpartition(".")[0]
        return ""

    def format(self, record: logging.LogRecord) -> str:
        return self._prefix(record.name) + super().format(record)


@contextlib.contextmanager
def cli_handler(verbosity: str = "normal",
                prefixes: Mapping[str, str] | None = None) -> Iterator[logging.Handler]:
    """Show semlink's log on stderr while the block runs (the ``semlink`` command's handler).

    :param verbosity: ``"quiet"`` (warnings and errors), ``"normal"`` (also progress,
        ``INFO``) or ``"verbose"`` (also ``DEBUG``).
    :param prefixes: per-logger prefixes (:class:`CliFormatter`).
    :yields: the handler (:func:`set_prefix` extends its prefixes).

    The ``semlink`` logger's level and handlers are restored afterwards, so calling
    :func:`~semlink.links.cli.main` from Python leaves no handler behind.
    """
    if verbosity not in CLI_LEVELS:
        raise ValueError(f"verbosity must be one of {sorted(CLI_LEVELS)}, got {verbosity!r}")
    logger = logging.getLogger(ROOT)
    handler = _StderrHandler()
    handler.setFormatter(CliFormatter(prefixes))
    handler.setLevel(CLI_LEVELS[verbosity])
    level_before, propagate_before = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(CLI_LEVELS[verbosity])
    # shown once, here: a root handler some dependency installs (open_clip's module-level
    # logging.warning configures one) would print every line a second time
    logger.propagate = False
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level_before)
        logger.propagate = propagate_before
        handler.flush()


def set_prefix(logger_name: str, prefix: str) -> None:
    """Put ``prefix`` before the messages of ``logger_name`` (and its children) on every
    :func:`cli_handler` now attached (``semlink data`` prefixes the fetcher's lines with
    ``semlink data: ``); without one, nothing changes."""
    for handler in logging.getLogger(ROOT).handlers:
        if isinstance(handler.formatter, CliFormatter):
            handler.formatter.prefixes[logger_name] = prefix
