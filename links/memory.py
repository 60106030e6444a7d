"""Memory of a sweep point: the peak actually used, and an estimate before the PHY runs.

* :class:`PeakMemory` measures a point's peak resident memory (CPU RSS, MiB)
  and, on a CUDA device, ``torch.cuda.max_memory_allocated`` (MiB). On Linux
  the RSS high-water mark is reset at the start of each point
  (``/proc/self/clear_refs``), so the figure is the point's own peak; where
  that is not possible it is the process's peak so far (an upper bound).
* :func:`check_point_memory` estimates what one batch of a point needs in the
  PHY (the LDPC decoder dominates: about :data:`BYTES_PER_CODED_BIT` bytes
  per coded bit of the batch) from the encoded payload, before the PHY runs,
  and refuses a batch that cannot fit in the memory available (warning above
  half of it). The constant was measured with ``benchmarks/point_memory.py``.
"""

from __future__ import annotations

import logging
import math
import os
import sys

#: Peak bytes per coded bit of one batch through ``DigitalChain.transmit`` (LDPC
#: 5G, float32, CPU): 397 bytes measured by ``benchmarks/point_memory.py``, rounded up.
BYTES_PER_CODED_BIT = 400
#: Peak bytes per complex symbol of an analog stream (generous; analog is cheap).
BYTES_PER_ANALOG_SYMBOL = 64
#: Bytes per image pixel held around a batch: original, reconstruction, metric copies.
BYTES_PER_PIXEL = 3 * 4 * 6

log = logging.getLogger(__name__)
_warned: set = set()


def _reset_rss_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_rss_mib() -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


class PeakMemory:
    """Peak memory of the code run between construction and :meth:`result`.

    :param device: the torch device of the point (``"cpu"``, ``"cuda:0"``).
    """

    def __init__(self, device: str) -> None:
        self.device = device
        self.cuda = str(device).startswith("cuda")
        _reset_rss_peak()
        if self.cuda:
            import torch

            torch.cuda.reset_peak_memory_stats(device)

    def result(self) -> dict[str, float]:
        """``{"peak_rss_mb": MiB, "cuda_max_allocated_mb": MiB (CUDA only)}``."""
        out = {"peak_rss_mb": round(_peak_rss_mib(), 1)}
        if self.cuda:
            import torch

            out["cuda_max_allocated_mb"] = round(torch.cuda.max_memory_allocated(self.device)
                                                 / 2**20, 1)
        return out


def available_bytes() -> int | None:
    """Memory the machine can still give this process (Linux ``MemAvailable``), or `None`."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def estimate_batch_bytes(payload, link, items) -> int:
    """Estimated peak bytes to send, decode and measure one encoded batch.

    :param payload: the batch's :class:`~semlink.semantic.payload.Payload`.
    :param link: the :class:`~semlink.links.link.Link` of the point.
    :param items: the batch's dataset items (``.image`` is ``[3, H, W]``).
    """
    total = sum(int(it.image.shape[-1] * it.image.shape[-2]) for it in items) * BYTES_PER_PIXEL
    for stream in payload.streams.values():
        chain = link.chain(stream.profile)
        if stream.kind == "digital":
            cfg = chain.config
            blocks = sum(math.ceil(len(d) / cfg.k_info) for d in stream.data)
            total += blocks * cfg.n * BYTES_PER_CODED_BIT
        else:
            total += sum(len(d) for d in stream.data) * BYTES_PER_ANALOG_SYMBOL
    return total


def check_point_memory(payload, link, items, limit_bytes: int | None = None) -> int:
    """Refuse a batch whose estimate exceeds the memory available; warn above half of it.

    :param limit_bytes: the memory to plan with (default: :func:`available_bytes`).
    :returns: the estimate [bytes].
    :raises MemoryError: the batch cannot fit; the message names the images and the fix.
    """
    need = estimate_batch_bytes(payload, link, items)
    have = limit_bytes if limit_bytes is not None else available_bytes()
    if have is None:
        return need
    big = max(items, key=lambda it: it.image.shape[-1] * it.image.shape[-2])
    h, w = big.image.shape[-2:]
    what = (f"a batch of {len(items)} image(s) (largest {big.name!r}, {h}x{w}) needs about "
            f"{need / 2**30:.1f} GiB in the PHY, and {have / 2**30:.1f} GiB are available")
    fix = "lower batch_size, or set dataset.resize to shrink the images"
    if need > have:
        raise MemoryError(f"{what}; refused before running out of memory: {fix}")
    if need > have / 2 and (h, w, len(items)) not in _warned:
        _warned.add((h, w, len(items)))
        log.warning("semlink run: warning: %s; %s", what, fix)
    return need


# --- models: memory known before the run ---------------------------------------------

#: Bytes per parameter of the dtypes models are loaded in.
DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2}
#: Activation allowance on top of the weights, planned per device: this fraction of the
#: weights plus :data:`ACTIVATION_FIXED_BYTES`. A documented heuristic, not a measurement:
#: SD 1.5 at 512x512, batch 8, fp16 (attention through torch's SDPA) and a LLaVA KV cache
#: of 700 tokens x batch 8 stay well inside it; ``benchmarks/multisc_stages.py`` measures
#: the real peak per stage on a GPU.
ACTIVATION_FRACTION = 0.25
ACTIVATION_FIXED_BYTES = 1 << 30
#: Roles whose models one process holds once for every codec setting that names the same
#: weights: Stable Diffusion and its IP-Adapter (``semantic/diffusion/sd.py`` shares one
#: pipeline per (weights, adapter, scheduler, device, dtype), e.g. across an
#: ``ip_adapter_scale`` sweep). Every other model is held once per codec setting.
SHARED_ROLES = ("diffusion",)


def device_bytes(device: str) -> tuple[str, int | None]:
    """``(device name, bytes it offers)``: a CUDA device's total memory, or the CPU's
    available memory (:func:`available_bytes`). ``auto``/``gpu``: CUDA when present."""
    dev = str(device)
    if dev in ("auto", "gpu") or dev.startswith("cuda"):
        import torch

        if torch.cuda.is_available():
            idx = int(dev.split(":")[1]) if ":" in dev else 0
            return f"cuda:{idx} ({torch.cuda.get_device_name(idx)})", \
                torch.cuda.get_device_properties(idx).total_memory
        if dev.startswith("cuda"):
            return dev, None
    return "cpu", available_bytes()


def model_memory_plan(needs: list[dict], device: str, limit_bytes: int | None = None,
                      device_name: str | None = None) -> dict:
    """What the models of a scenario take on ``device``, known before the first point.

    Sweeps run codec-major and keep every codec setting once built, each with its own
    copy of its models, so the peak is the sum over codec settings (a model used twice
    by one setting counted once) plus one copy of each metric model; models of the
    :data:`SHARED_ROLES` (Stable Diffusion, IP-Adapter) count once per weights and dtype,
    as the settings share one pipeline (a scheduler that differs between settings
    would load a second one: not counted). A model's bytes
    are its parameter count (``params``, from :mod:`semlink.stand_ins`' configurations)
    times its dtype's bytes; without a count, its size on disk.

    :param needs: rows of :func:`semlink.links.models_command.check_scenario` (``who``,
        ``ref``, ``dtype``, ``params``, ``size_bytes``).
    :param limit_bytes: the memory to plan with (default: :func:`device_bytes`).
    :param device_name: with ``limit_bytes``, the device planned for (e.g. "a CUDA device
        of 24 GiB"), present or not: the local device is then not queried.
    :returns: ``{"device", "available_bytes", "weights_bytes", "allowance_bytes",
        "need_bytes", "fits" (None when unknown), "models": [...], "unknown": [...],
        "summary"}``.
    """
    rows, seen, unknown = [], set(), []
    for n in needs:
        if n.get("error") or n.get("ref") is None:
            continue
        shared = str(n.get("role") or "").split(".")[0] in SHARED_ROLES
        key = ("shared", n["ref"], n.get("dtype")) if shared else (n["who"], n["ref"])
        if key in seen:
            continue
        seen.add(key)
        per = DTYPE_BYTES.get(str(n.get("dtype") or "float32"), 4)
        if n.get("params"):
            size = int(n["params"]) * per
        elif n.get("size_bytes"):
            size = int(n["size_bytes"])
        else:
            unknown.append(n["ref"])
            continue
        rows.append({"who": n["who"], "ref": n["ref"], "dtype": n.get("dtype"),
                     "params": n.get("params"), "bytes": size})
    weights = sum(r["bytes"] for r in rows)
    allowance = int(weights * ACTIVATION_FRACTION) + ACTIVATION_FIXED_BYTES if rows else 0
    have: int | None
    if device_name is not None and limit_bytes is not None:
        name, have = device_name, limit_bytes
    else:
        name, have = device_bytes(device)
        have = limit_bytes if limit_bytes is not None else have
    need = weights + allowance
    fits = None if have is None else need <= have
    big = sorted(rows, key=lambda r: -r["bytes"])
    listing = ", ".join(f"{r['ref']} {r['bytes'] / 2**30:.1f} GiB ({r['dtype']}, {r['who']})"
                        for r in big[:8]) + (f", ... {len(big) - 8} more" if len(big) > 8 else "")
    gib = 2**30
    if not rows:
        summary = f"models: none with a known size on {name}"
    else:
        summary = (f"models on {name}: weights {weights / gib:.1f} GiB + activation allowance "
                   f"{allowance / gib:.1f} GiB = {need / gib:.1f} GiB"
                   + ("" if have is None else f" of {have / gib:.1f} GiB")
                   + ("" if fits is None else (": fits" if fits else ": WILL NOT FIT"))
                   + f" [{listing}]")
    if unknown:
        summary += f"; size unknown (not counted): {', '.join(sorted(set(unknown)))}"
    return {"device": name, "available_bytes": have, "weights_bytes": weights,
            "allowance_bytes": allowance, "need_bytes": need, "fits": fits, "models": rows,
            "unknown": sorted(set(unknown)), "summary": summary}
