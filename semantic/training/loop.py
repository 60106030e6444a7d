"""The one training loop every ``semlink train NAME`` uses.

A :class:`Trainer` knows its model and one optimisation step; :func:`run_training`
does the rest, identically for every trainer:

* the output folder: ``OUT/last.pt`` (the trainer's own checkpoint format,
  written atomically by :meth:`Trainer.save_checkpoint`), ``OUT/train_log.csv``
  (one row every ``log_every`` steps: ``step``, the trainer's
  :attr:`Trainer.log_fields`, ``seconds``), ``OUT/train_config.json``
  (the trainer's :meth:`Trainer.config`, seed and versions);
* refusing to overwrite: an existing ``last.pt`` without ``resume`` is an error;
* resume: :meth:`Trainer.restore` loads weights, optimiser and RNG state and
  returns the checkpoint's configuration; a configuration that differs from
  the current arguments (except the number of steps) is refused with the
  differing keys named, so no run ever writes a checkpoint that
  mixes two configurations;
* checkpoints every ``checkpoint_every`` steps and at the end;
* held-out evaluation every ``eval_every`` steps (a multiple of
  ``checkpoint_every``) and at the end, for trainers that have one
  (:meth:`Trainer.evaluate` on the checkpoint just written): one row per
  evaluation in ``OUT/eval_log.csv`` (``step``, the trainer's
  :attr:`Trainer.eval_fields`), appended to on resume. The training loss
  of random batches is noisy; this curve is how a run shows it has flattened;
* a progress bar (tqdm) when stderr is a terminal (or ``progress=True``).
"""

from __future__ import annotations

import csv
import json
import sys
import time
from abc import ABC, abstractmethod
from pathlib import Path


class Trainer(ABC):
    """One trainable model. Subclasses define the step and the checkpoint format.

    Attributes set by subclasses:

    * :attr:`name`: registry name (``semlink train NAME``);
    * :attr:`log_fields`: names of the values :meth:`train_step` returns, in CSV order.
    """

    name: str = "trainer"
    log_fields: tuple[str, ...] = ("loss",)
    #: configuration keys that may differ on resume (e.g. the total number of steps)
    resumable_changes: tuple[str, ...] = ("steps",)
    #: names of the values :meth:`evaluate` returns (``eval_log.csv`` columns); empty: none
    eval_fields: tuple[str, ...] = ()

    @abstractmethod
    def config(self) -> dict:
        """JSON-able configuration (what defines the run; compared on resume)."""

    @abstractmethod
    def total_steps(self) -> int:
        """Number of optimisation steps of the whole run."""

    @abstractmethod
    def train_step(self, step: int) -> dict[str, float]:
        """Run optimisation step ``step`` (0-based); return :attr:`log_fields` values."""

    @abstractmethod
    def save_checkpoint(self, path: Path, step: int, seconds: float) -> None:
        """Write weights + optimiser + RNG state + config to ``path`` (atomically)."""

    @abstractmethod
    def restore(self, path: Path) -> tuple[int, float, dict]:
        """Load a checkpoint written by :meth:`save_checkpoint`: ``(step, seconds, config)``."""

    @classmethod
    def check_config(cls, config: object) -> None:
        """Refuse anything but the trainer's own configuration class (``CONFIG``, where the
        subclass sets one), naming how to build it."""
        want = getattr(cls, "CONFIG", None)
        if want is not None and not isinstance(config, want):
            raise TypeError(f"{cls.__name__} takes a {want.__name__}, got "
                            f"{type(config).__name__}; build one with {want.__name__}(data=..., ...)")

    def check_evaluation(self) -> None:
        """Raise ``ValueError`` (naming what to pass) when :meth:`evaluate` cannot run; called
        before the first step when ``eval_every`` is given."""
        if not self.eval_fields:
            raise ValueError(f"trainer {self.name!r} has no held-out evaluation; leave out "
                             "eval_every (--eval-every)")

    def evaluate(self, checkpoint: Path) -> dict[str, float]:
        """Held-out metrics of ``checkpoint`` (:attr:`eval_fields`), for ``eval_log.csv``."""
        raise NotImplementedError(f"trainer {self.name!r} has no held-out evaluation")

    def finish(self, out_dir: Path, result: dict) -> dict:
        """After the last step (evaluation, final files); returns extra result entries."""
        return {}


def _differences(saved: dict, now: dict, allowed: tuple[str, ...]) -> list[str]:
    keys = sorted(set(saved) | set(now))
    return [f"{k}: checkpoint {saved.get(k)!r}, now {now.get(k)!r}" for k in keys
            if k not in allowed and saved.get(k) != now.get(k)]


def _log_evaluation(path: Path, trainer: Trainer, checkpoint: Path, step: int) -> None:
    """Evaluate ``checkpoint`` and append a row to ``eval_log.csv`` (header when new)."""
    import torch

    with torch.random.fork_rng():        # training's random numbers do not depend on eval_every
        values = trainer.evaluate(checkpoint)
    new = not path.exists()
    with open(path, "a", newline="") as f:
        writer = csv.writer(f)
        if new:
            writer.writerow(["step", *trainer.eval_fields])
        writer.writerow([step, *(f"{values.get(k, float('nan')):.6g}" for k in trainer.eval_fields)])


def run_training(trainer: Trainer, out: str | Path, resume: bool = False,
                 checkpoint_every: int = 200, log_every: int = 25,
                 progress: bool | None = None, eval_every: int | None = None) -> dict:
    """Train ``trainer`` into ``out`` (see the module docstring); returns a result dict
    with ``checkpoint``, ``steps``, ``train_seconds`` and the last logged values."""
    counts = [("checkpoint_every", checkpoint_every), ("log_every", log_every)]
    for name, v in counts + ([("eval_every", eval_every)] if eval_every is not None else []):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    if eval_every is not None:
        if eval_every % checkpoint_every:
            raise ValueError(f"eval_every={eval_every} is not a multiple of checkpoint_every="
                             f"{checkpoint_every}: evaluations read the checkpoint; pass a multiple")
        trainer.check_evaluation()
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    last = out_dir / "last.pt"
    config = trainer.config()
    step, seconds = 0, 0.0
    if last.exists():
        if not resume:
            raise ValueError(f"{last} exists; pass --resume (resume=True) to continue it or "
                             "choose another --out")
        step, seconds, saved = trainer.restore(last)
        diff = _differences(saved, config, trainer.resumable_changes)
        if diff:
            raise ValueError(f"--resume: {last} was trained with other settings ({'; '.join(diff)}); "
                             "use the same settings or another --out")
    from semlink.provenance import environment

    (out_dir / "train_config.json").write_text(json.dumps(
        {"trainer": trainer.name, "config": config, "resumed_at_step": step,
         "environment": environment()}, indent=1, default=str))
    total = trainer.total_steps()
    log_path = out_dir / "train_log.csv"
    new_log = not (resume and log_path.exists())
    show = sys.stderr.isatty() if progress is None else progress
    bar = None
    if show:
        from tqdm import tqdm

        bar = tqdm(total=total, initial=step, unit="step", desc=trainer.name, file=sys.stderr)
    values: dict[str, float] = {}
    t0 = time.perf_counter() - seconds
    with open(log_path, "w" if new_log else "a", newline="") as log:
        writer = csv.writer(log)
        if new_log:
            writer.writerow(["step", *trainer.log_fields, "seconds"])
        try:
            while step < total:
                values = trainer.train_step(step)
                step += 1
                if step % log_every == 0 or step == total:
                    writer.writerow([step, *(f"{values.get(k, float('nan')):.6g}"
                                             for k in trainer.log_fields),
                                     f"{time.perf_counter() - t0:.1f}"])
                    log.flush()
                if bar:
                    bar.update(1)
                    bar.set_postfix({k: f"{v:.4g}" for k, v in list(values.items())[:2]})
                if step % checkpoint_every == 0 or step == total:
                    trainer.save_checkpoint(last, step, time.perf_counter() - t0)
                    if eval_every is not None and (step % eval_every == 0 or step == total):
                        _log_evaluation(out_dir / "eval_log.csv", trainer, last, step)
        finally:
            if bar:
                bar.close()
    if step == 0 and not last.exists():
        trainer.save_checkpoint(last, 0, 0.0)
    result = {"checkpoint": str(last), "steps": step, "train_seconds": time.perf_counter() - t0,
              **values}
    result.update(trainer.finish(out_dir, result))
    return result
