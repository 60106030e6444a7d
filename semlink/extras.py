"""Optional dependencies ("extras") with an install hint when missing.

Heavy parts of semlink (vision models, VLMs, diffusion, Ray, ...) are extras.
:func:`require` imports a module and, when it is missing, raises an
:class:`ImportError` naming the exact ``pip install`` command to run.
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: module name -> (extra name, pip package) ; the extra installs the package.
_EXTRAS: dict[str, tuple[str, str]] = {
    "torchvision": ("vision", "torchvision"),
    "PIL": ("vision", "pillow"),
    "pytorch_msssim": ("metrics", "pytorch-msssim"),
    "lpips": ("metrics", "lpips"),
    "transformers": ("vlm", "transformers"),
    "open_clip": ("vlm", "open_clip_torch"),
    "diffusers": ("diffusion", "diffusers"),
    "ray": ("ray", "ray"),
    "skimage": ("examples", "scikit-image"),
    "pillow_heif": ("codecs", "pillow-heif"),
    "cv2": ("saliency", "opencv-contrib-python-headless"),
    "ldpc": ("ldpc-cpu", "ldpc"),
    "triton": ("ldpc-gpu", "triton"),
}


def install_hint(module: str) -> str:
    """Return the ``pip install`` command that provides ``module``."""
    extra, package = _EXTRAS.get(module, (None, module))
    if extra is None:
        return f"pip install {package}"
    return f"pip install 'semlink[{extra}]'  (or: pip install {package})"


def require(module: str, purpose: str) -> ModuleType:
    """Import ``module`` or raise an ImportError that says how to install it.

    :param module: importable module name, e.g. ``"ray"``.
    :param purpose: what needs it, used in the message, e.g. ``"--executor ray"``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"{purpose} needs the optional package '{module}', which is not "
            f"installed. Install it with: {install_hint(module)}"
        ) from exc
