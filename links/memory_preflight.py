"""Memory of a sweep's largest batch, estimated before any full-size encode.

:func:`semlink.links.memory.check_point_memory` refuses a batch whose PHY
would not fit, but it needs the encoded payload: a 6000x4000 photo without
``dataset.resize`` was refused ("needs about 437.6 GiB") only after encoding
had peaked at 11.2 GB. Here, before the sweep starts, each codec setting
whose dataset holds a large image (more than :data:`PROXY_PIXELS`) encodes two
centre crops of that image (256x256 and 512x512), takes the PHY estimate of
each (:func:`~semlink.links.memory.estimate_batch_bytes`: coded bits times
bytes per coded bit, plus the pixels held), fits ``a + b * pixels`` through
the two and extrapolates to the full image times the batch size:

    need(H x W) = a + b * H * W   per image,  b = (e512 - e256) / (512^2 - 256^2)

A codec whose payload grows with the pixels (raw pixels, JPEG, JPEG2000,
deep JSCC) extrapolates in proportion; one with a fixed payload (features,
captions) gets ``b`` near 0. An estimate above the memory available refuses
the run before anything full-size is encoded, naming the codec, the image,
both figures and the fix. A codec that cannot encode the crops is left to
its points (they record their own error).
"""

from __future__ import annotations

import logging

from semlink.data import DatasetItem

from .memory import available_bytes, estimate_batch_bytes
from .sweep import built_codecs

log = logging.getLogger(__name__)

#: Images larger than this (pixels) are checked by the crop estimate (4 Mpx, e.g. 2048x2048).
PROXY_PIXELS = 2048 * 2048
#: The two centre-crop sides the estimate encodes.
CROPS = (256, 512)


def _crop(item, side: int) -> DatasetItem:
    h, w = item.image.shape[-2:]
    top, left = (h - side) // 2, (w - side) // 2
    return DatasetItem(item.name, item.image[:, top:top + side, left:left + side].clone(),
                       list(item.captions), list(item.queries), (side, side))


def estimate_full_batch(codec, link, item, batch_size: int) -> int | None:
    """Estimated peak bytes of a batch of ``batch_size`` images as large as ``item``,
    from two centre-crop encodes (see the module docstring); `None` when the codec
    cannot encode the crops."""
    h, w = (int(v) for v in item.image.shape[-2:])
    estimates = []
    for side in CROPS:
        crop = _crop(item, side)
        try:
            payload = codec.encode_items([crop])
            estimates.append(estimate_batch_bytes(payload, link, [crop]))
        except Exception as exc:  # noqa: BLE001 - the points record the codec's own error
            log.debug("memory estimate skipped (%s on a %dx%d crop: %s)", type(exc).__name__,
                      side, side, exc)
            return None
    (s1, s2), (e1, e2) = CROPS, estimates
    slope = max(0.0, (e2 - e1) / (s2 * s2 - s1 * s1))
    per_image = max(e2, e1 + slope * (h * w - s1 * s1))
    return int(per_image * batch_size)


def check_sweep_memory(runner, scenario, limit_bytes: int | None = None) -> None:
    """Refuse, before the sweep, codec settings whose largest batch cannot fit.

    :param runner: the sweep's :class:`~semlink.links.sweep.PointRunner` (its dataset,
        codecs and links are reused, so nothing is built twice).
    :param limit_bytes: memory to plan with (default: ``runner.memory_limit_bytes``, else
        :func:`~semlink.links.memory.available_bytes`).
    :raises MemoryError: naming each codec setting that cannot fit, the image, the
        estimate, the memory available and the fix.
    """
    dataset = runner.dataset
    if len(dataset) == 0:
        return
    sizes = dataset.shapes                      # read from the cache, no image copied
    big = max(range(len(sizes)), key=lambda i: sizes[i][0] * sizes[i][1])
    h, w = sizes[big]
    if h * w <= PROXY_PIXELS or min(h, w) < CROPS[-1]:
        return
    have = limit_bytes if limit_bytes is not None else getattr(runner, "memory_limit_bytes", None)
    have = have if have is not None else available_bytes()
    if have is None:
        return
    item = dataset[big]
    batch = min(scenario.batch_size, len(dataset))
    refused = []
    for point, codec in built_codecs(runner, scenario):
        try:
            link = runner.link(point)
            codec.attach_phy({s: link.chain(p) for s, p in codec.stream_profiles.items()})
        except Exception:  # noqa: BLE001 - recorded by the points
            continue
        need = estimate_full_batch(codec, link, item, batch)
        if need is not None and need > have:
            refused.append(f"{point.codec.label!r} needs about {need / 2**30:.1f} GiB")
    if refused:
        raise MemoryError(
            f"image {item.name!r} is {h}x{w}: a batch of {batch} such image(s) through "
            f"{'; '.join(refused)} (estimated from 256x256 and 512x512 crops, before encoding), "
            f"and {have / 2**30:.1f} GiB are available; set dataset.resize (e.g. resize: 512) "
            "or lower batch_size")
