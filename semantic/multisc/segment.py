"""Main-object extraction for Multi-SC (the papers' eq. 1, ``i_m = N_FCN(i)``).

Two extractors, chosen explicitly (never silently swapped):

* ``fcn`` (the papers'): a torchvision FCN semantic-segmentation model
  (``fcn_resnet50`` / ``fcn_resnet101``, COCO-with-VOC-labels weights: 21
  classes, 0 = background) loaded through :mod:`semlink.models`.
* ``saliency`` (weight-free, opt-in): OpenCV spectral-residual saliency,
  Otsu threshold, then GrabCut refinement seeded with the salient pixels as
  "probably foreground". Needs ``opencv-contrib-python-headless``.

**Main-object rule** (both extractors): among the foreground classes
(FCN: labels 1..20; saliency: the single foreground mask) take the class with
the most pixels, then its largest 8-connected component. When that component
covers less than ``min_fraction`` of the image there is no main object: the
result is ``empty=True`` and the codec sends an empty object stream. The box
is the component's bounding box grown by ``margin`` x its width / height on
every side, clipped to the image. :attr:`MainObject.extractor` records which
extractor ran.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from semlink.device import DEFAULT_DEVICE, resolve_device
from semlink.extras import require

EXTRACTORS = ("fcn", "saliency")
#: the torchvision FCN weights of the papers' segmentation network (21 VOC classes)
DEFAULT_FCN = "torchvision:FCN_ResNet50_Weights.COCO_WITH_VOC_LABELS_V1"
#: config file of a local FCN folder (weights in ``model.pt``); see :func:`save_fcn_folder`
FCN_CONFIG = "semlink_fcn.json"
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


@dataclass
class MainObject:
    """The main object of one image.

    :param box: ``(x0, y0, x1, y1)`` pixels (margin included), `None` when empty.
    :param empty: no object found (the object stream is empty for this image).
    :param extractor: ``"fcn"`` or ``"saliency"``.
    :param label: FCN class index of the object (VOC labels), `None` for saliency.
    :param fraction: object pixels / image pixels (0 when empty).
    """

    box: tuple | None
    empty: bool
    extractor: str
    label: int | None = None
    fraction: float = 0.0


def main_object_from_labels(labels: np.ndarray, extractor: str, min_fraction: float = 0.01,
                            margin: float = 0.05) -> MainObject:
    """Apply the main-object rule to a [H, W] integer label map (0 = background)."""
    from scipy import ndimage

    labels = np.asarray(labels)
    h, w = labels.shape
    fg = labels[labels > 0]
    if fg.size == 0:
        return MainObject(None, True, extractor)
    counts = np.bincount(fg.ravel())
    cls = int(np.argmax(counts))
    comp, num = ndimage.label(labels == cls, structure=np.ones((3, 3), dtype=int))
    sizes = np.bincount(comp.ravel())[1:]
    best = int(np.argmax(sizes)) + 1
    frac = float(sizes[best - 1]) / (h * w)
    if frac < min_fraction:
        return MainObject(None, True, extractor, label=cls, fraction=frac)
    ys, xs = np.nonzero(comp == best)
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    mx, my = margin * (x1 - x0), margin * (y1 - y0)
    box = (int(max(0, np.floor(x0 - mx))), int(max(0, np.floor(y0 - my))),
           int(min(w, np.ceil(x1 + mx))), int(min(h, np.ceil(y1 + my))))
    return MainObject(box, False, extractor, label=cls if extractor == "fcn" else None,
                      fraction=frac)


# ---------------------------------------------------------------- FCN -----


def build_fcn(block: str = "bottleneck", layers=(3, 4, 6, 3), num_classes: int = 21,
              aux_loss: bool = True):
    """A torchvision FCN on a ResNet backbone (``fcn_resnet50`` = bottleneck [3, 4, 6, 3]).

    Same module names as ``torchvision.models.segmentation.fcn_resnet50/101``,
    so their state dicts load; smaller ``layers`` / ``block="basic"`` give the
    tiny test models.
    """
    tv = require("torchvision", "the FCN main-object extractor")
    from torchvision.models import resnet as tv_resnet
    from torchvision.models._utils import IntermediateLayerGetter
    from torchvision.models.segmentation.fcn import FCN, FCNHead

    if block not in ("basic", "bottleneck"):
        raise ValueError(f"FCN block must be 'basic' or 'bottleneck', got {block!r}")
    blk = tv_resnet.Bottleneck if block == "bottleneck" else tv_resnet.BasicBlock
    dil = [False, True, True] if block == "bottleneck" else [False, False, False]
    backbone = tv_resnet.ResNet(blk, list(layers), replace_stride_with_dilation=dil)
    ret = {"layer4": "out", "layer3": "aux"} if aux_loss else {"layer4": "out"}
    backbone = IntermediateLayerGetter(backbone, return_layers=ret)
    c4 = 512 * blk.expansion
    aux = FCNHead(c4 // 2, num_classes) if aux_loss else None
    del tv
    return FCN(backbone, FCNHead(c4, num_classes), aux)


_TORCHVISION_ARCH = {"FCN_ResNet50_Weights": ("bottleneck", (3, 4, 6, 3)),
                     "FCN_ResNet101_Weights": ("bottleneck", (3, 4, 23, 3))}


def save_fcn_folder(model, folder, block: str, layers, num_classes: int, aux_loss: bool) -> Path:
    """Write an FCN as a local model folder (``semlink_fcn.json`` + ``model.pt``)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), folder / "model.pt")
    (folder / FCN_CONFIG).write_text(json.dumps(
        {"block": block, "layers": list(layers), "num_classes": num_classes, "aux_loss": aux_loss}))
    return folder


class FCNExtractor:
    """Main object by FCN segmentation (the papers' ``N_FCN``).

    :param model: model reference: a torchvision weights name
        (default :data:`DEFAULT_FCN`) or a local folder written by
        :func:`save_fcn_folder`.
    :param device: torch device.
    :param resize: shorter side the image is resized to before the network (torchvision's
        preset for these weights: 520); the label map is resized back (nearest).
    :param min_fraction, margin: see the module's main-object rule.
    """

    name = "fcn"

    def __init__(self, model: str = DEFAULT_FCN, device: str = DEFAULT_DEVICE, resize: int = 520,
                 min_fraction: float = 0.01, margin: float = 0.05) -> None:
        device = resolve_device(device)   # semlink's device rule: auto -> first GPU, else CPU
        from semlink.models import resolve

        resolved = resolve(model)
        path = Path(resolved.path)
        if path.is_dir():
            cfg_file = path / FCN_CONFIG
            if not cfg_file.is_file():
                raise ValueError(f"FCN folder {str(path)!r} has no {FCN_CONFIG}; write it with "
                                 "semlink.semantic.multisc.segment.save_fcn_folder")
            cfg = json.loads(cfg_file.read_text())
            net = build_fcn(cfg["block"], cfg["layers"], cfg["num_classes"], cfg["aux_loss"])
            state = torch.load(path / "model.pt", map_location="cpu", weights_only=True)
        else:
            arch = _TORCHVISION_ARCH.get(str(resolved.ref.name).split(".")[0])
            if arch is None:
                raise ValueError(f"FCN weights {model!r}: expected one of "
                                 f"{sorted(_TORCHVISION_ARCH)} (torchvision:NAME) or a folder "
                                 f"with {FCN_CONFIG}")
            state = torch.load(path, map_location="cpu", weights_only=True)
            net = build_fcn(*arch, num_classes=21, aux_loss=any(k.startswith("aux_") for k in state))
        net.load_state_dict(state)
        self.net = net.to(device).eval()
        self.device = device
        self.resize = int(resize)
        self.min_fraction = float(min_fraction)
        self.margin = float(margin)
        self.record = resolved.record("segmentation", state_dict=state)

    @torch.no_grad()
    def labels(self, image: torch.Tensor) -> np.ndarray:
        """[3, H, W] in [0, 1] -> [H, W] VOC label map (argmax of the FCN output)."""
        h, w = image.shape[-2:]
        s = self.resize / min(h, w)
        x = F.interpolate(image[None].float(), size=(max(1, round(h * s)), max(1, round(w * s))),
                          mode="bilinear", align_corners=False, antialias=True)
        mean = torch.tensor(_MEAN, device=self.device).view(1, 3, 1, 1)
        std = torch.tensor(_STD, device=self.device).view(1, 3, 1, 1)
        out = self.net((x.to(self.device) - mean) / std)["out"]
        lab = out.argmax(1, keepdim=True).float()
        lab = F.interpolate(lab, size=(h, w), mode="nearest")[0, 0]
        return lab.to(torch.int64).cpu().numpy()

    def __call__(self, image: torch.Tensor) -> MainObject:
        return main_object_from_labels(self.labels(image), "fcn", self.min_fraction, self.margin)

    def describe(self) -> dict:
        return {"extractor": "fcn", "model": self.record.to_dict(), "resize": self.resize,
                "min_fraction": self.min_fraction, "margin": self.margin}


# ------------------------------------------------------------ saliency ----


class SaliencyExtractor:
    """Weight-free main object: spectral-residual saliency + Otsu + GrabCut (OpenCV).

    Opt-in only (``extractor: saliency``); results record ``extractor="saliency"``.

    :param grabcut_iters: GrabCut iterations (0: the Otsu mask as is).
    :param min_fraction, margin: see the module's main-object rule.
    """

    name = "saliency"

    def __init__(self, grabcut_iters: int = 3, min_fraction: float = 0.01,
                 margin: float = 0.05) -> None:
        self.cv2 = require("cv2", "the saliency main-object extractor")
        if not hasattr(self.cv2, "saliency"):
            raise ImportError("the saliency extractor needs OpenCV's contrib modules (cv2.saliency): "
                              "pip install opencv-contrib-python-headless")
        self.grabcut_iters = int(grabcut_iters)
        self.min_fraction = float(min_fraction)
        self.margin = float(margin)

    def mask(self, image: torch.Tensor) -> np.ndarray:
        """[3, H, W] in [0, 1] -> [H, W] uint8 foreground mask (0/1)."""
        cv2 = self.cv2
        rgb = (image.clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255).round().astype(np.uint8)
        bgr = np.ascontiguousarray(rgb[..., ::-1])
        ok, sal = cv2.saliency.StaticSaliencySpectralResidual_create().computeSaliency(bgr)
        if not ok:
            return np.zeros(rgb.shape[:2], np.uint8)
        sal8 = cv2.normalize(sal, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
        sal8 = cv2.GaussianBlur(sal8, (0, 0), 3)
        _, fg = cv2.threshold(sal8, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        if self.grabcut_iters <= 0 or fg.all() or not fg.any():
            return fg.astype(np.uint8)
        gc = np.where(fg > 0, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
        bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        try:
            cv2.grabCut(bgr, gc, None, bgd, fgd, self.grabcut_iters, cv2.GC_INIT_WITH_MASK)
        except cv2.error:
            return fg.astype(np.uint8)
        return np.isin(gc, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.uint8)

    def __call__(self, image: torch.Tensor) -> MainObject:
        return main_object_from_labels(self.mask(image), "saliency", self.min_fraction, self.margin)

    def describe(self) -> dict:
        return {"extractor": "saliency", "opencv": self.cv2.__version__,
                "grabcut_iters": self.grabcut_iters, "min_fraction": self.min_fraction,
                "margin": self.margin}


def make_extractor(extractor: str, model: str | None = None, device: str = DEFAULT_DEVICE,
                   min_fraction: float = 0.01, margin: float = 0.05):
    """``"fcn"`` (``model``: weights reference, default :data:`DEFAULT_FCN`) or ``"saliency"``."""
    device = resolve_device(device)   # semlink's device rule: auto -> first GPU, else CPU
    if extractor == "fcn":
        return FCNExtractor(model or DEFAULT_FCN, device=device, min_fraction=min_fraction,
                            margin=margin)
    if extractor == "saliency":
        if model is not None:
            raise ValueError("extractor 'saliency' is weight-free: do not pass object_model")
        return SaliencyExtractor(min_fraction=min_fraction, margin=margin)
    raise ValueError(f"object extractor must be one of {EXTRACTORS}, got {extractor!r} "
                     "('saliency' is the explicit weight-free fallback)")
