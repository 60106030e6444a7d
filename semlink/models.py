"""One place that finds and loads pretrained models, offline first.

A *model reference* is one of

* a Hugging Face id, ``"org/name"`` (optionally ``"hf:org/name"``);
* an open_clip model name and pretrained tag, ``"open_clip:ViT-B-16:openai"``;
* a torchvision weights name, ``"torchvision:AlexNet_Weights.IMAGENET1K_V1"``;
* a local path (a model folder or a weights file), ``"./my_model"``,
  ``"/data/bart"`` or ``"path:relative/dir"``;
* a stand-in, ``"stand_in:sd15"`` / ``"stand_in:sd15:small"``: the published
  architecture with seeded random weights (:mod:`semlink.stand_ins`), built
  on first use under ``$SEMLINK_MODELS/stand_in/``; its records say
  ``random_init``. With ``SEMLINK_STAND_INS=1`` (or :func:`set_stand_ins`)
  every reference that has a stand-in resolves to it.

:func:`resolve` finds the files **without the network**, in this order:

1. the reference itself when it is an existing local path;
2. ``$SEMLINK_MODELS/<id>`` -- one folder users fill once (default
   ``~/.cache/semlink/models``); ``<id>`` is the Hugging Face id
   (``$SEMLINK_MODELS/facebook/bart-base``), ``open_clip/<name>/<tag>`` or
   ``torchvision/<weights file>``;
3. the standard caches: the Hugging Face hub cache, torch hub's
   ``checkpoints/`` folder, open_clip's cache.

It downloads only when the user allows it (``--allow-download`` on the
command line, :func:`set_allow_download`, or ``SEMLINK_ALLOW_DOWNLOAD=1``).
Otherwise a missing model raises :class:`ModelNotFound`, whose message names
the model, the folders searched and the exact command that fetches it on a
machine with internet (``semlink models fetch NAME``).

Every resolved model yields a :class:`~semlink.provenance.ModelRecord`
(:func:`record`): reference, path, content hash of the files, and the
``test_model`` flag of folders written by test fixtures
(:data:`~semlink.provenance.TEST_MODEL_MARKER`).

:data:`CATALOG` lists the models semlink's codecs and metrics use by
default; ``semlink models list|check|fetch`` reads it.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from semlink.device import DEFAULT_DEVICE, resolve_device

from .provenance import ModelRecord, hash_path, is_test_model

ENV_MODELS = "SEMLINK_MODELS"
ENV_ALLOW_DOWNLOAD = "SEMLINK_ALLOW_DOWNLOAD"
ENV_STAND_INS = "SEMLINK_STAND_INS"
KINDS = ("hf", "open_clip", "torchvision", "path", "stand_in")

_allow_download_override: bool | None = None
_stand_ins_override: bool | None = None


class ModelNotFound(FileNotFoundError):
    """A model is not on this machine and downloading is not allowed.

    :param searched: the places looked in, as data (also named in the message).
    """

    def __init__(self, message: str, searched: list[str] | None = None) -> None:
        super().__init__(message)
        self.searched = list(searched or [])


def models_dir() -> Path:
    """``$SEMLINK_MODELS`` (default ``~/.cache/semlink/models``)."""
    return Path(os.environ.get(ENV_MODELS) or "~/.cache/semlink/models").expanduser()


def set_allow_download(allow: bool | None) -> None:
    """Allow (True) or forbid (False) downloads in this process; `None`: follow the env var."""
    global _allow_download_override
    _allow_download_override = allow


def set_stand_ins(on: bool | None) -> None:
    """Resolve every reference that has a stand-in to it (True), never (False), or follow
    ``SEMLINK_STAND_INS`` (`None`)."""
    global _stand_ins_override
    _stand_ins_override = on


def stand_ins_enabled() -> bool:
    """True when real references resolve to their stand-ins (:func:`set_stand_ins` or
    ``SEMLINK_STAND_INS=1``)."""
    if _stand_ins_override is not None:
        return _stand_ins_override
    return os.environ.get(ENV_STAND_INS, "").strip().lower() in ("1", "true", "yes")


def substitute(ref: str | ModelRef) -> ModelRef:
    """``ref`` parsed; replaced by its stand-in when stand-ins are enabled and one exists."""
    r = parse_ref(ref)
    if r.kind != "stand_in" and stands_in_enabled_for(r):
        from .stand_ins import STANDS_IN_FOR

        return ModelRef("stand_in", STANDS_IN_FOR[str(r)])
    return r


def stands_in_enabled_for(r: ModelRef) -> bool:
    if not stand_ins_enabled():
        return False
    from .stand_ins import STANDS_IN_FOR

    return str(r) in STANDS_IN_FOR


def download_allowed() -> bool:
    """True when downloads are allowed (:func:`set_allow_download` or ``SEMLINK_ALLOW_DOWNLOAD=1``)."""
    if _allow_download_override is not None:
        return _allow_download_override
    return os.environ.get(ENV_ALLOW_DOWNLOAD, "").strip().lower() in ("1", "true", "yes")


@dataclass(frozen=True)
class ModelRef:
    """A parsed model reference.

    :param kind: ``"hf"``, ``"open_clip"``, ``"torchvision"``, ``"path"`` or ``"stand_in"``.
    :param name: HF id, open_clip model name, torchvision weights name, the path, or
        ``NAME[:SCALE[:SEED]]`` of a stand-in.
    :param tag: open_clip pretrained tag (`None` otherwise).
    """

    kind: str
    name: str
    tag: str | None = None

    def __str__(self) -> str:
        if self.kind == "hf":
            return self.name
        if self.kind == "open_clip":
            return f"open_clip:{self.name}:{self.tag}"
        return f"{self.kind}:{self.name}"

    @property
    def local_id(self) -> str:
        """Relative folder of this model under ``$SEMLINK_MODELS``."""
        if self.kind == "hf":
            return self.name
        if self.kind == "open_clip":
            return f"open_clip/{self.name}/{self.tag}"
        if self.kind == "torchvision":
            return f"torchvision/{_torchvision_file(self.name)}"
        if self.kind == "stand_in":
            from .stand_ins import parse

            return f"stand_in/{parse(self.name).folder_name}"
        return self.name

    def fetch_command(self) -> str:
        """The command that fetches this model on a machine with internet."""
        return f"SEMLINK_MODELS=<folder> semlink models fetch {self}"


def parse_ref(ref: str | ModelRef) -> ModelRef:
    """Parse a model reference string (see the module docstring); bad input raises ValueError."""
    if isinstance(ref, ModelRef):
        return ref
    if not isinstance(ref, (str, os.PathLike)) or not str(ref).strip():
        raise ValueError(f"model reference must be a non-empty string, got {ref!r}; e.g. "
                         "'facebook/bart-base', 'open_clip:ViT-B-16:openai', "
                         "'torchvision:AlexNet_Weights.IMAGENET1K_V1' or a local folder")
    s = str(ref).strip()
    if s.startswith("hf:"):
        return ModelRef("hf", s[3:])
    if s.startswith("path:"):
        return ModelRef("path", s[5:])
    if s.startswith("stand_in:"):
        from .stand_ins import parse

        return ModelRef("stand_in", str(parse(s[9:]))[9:])
    if s.startswith("open_clip:"):
        parts = s.split(":")
        if len(parts) != 3 or not all(parts[1:]):
            raise ValueError(f"open_clip reference {s!r} must be 'open_clip:MODEL:TAG', "
                             "e.g. 'open_clip:ViT-B-16:openai'")
        return ModelRef("open_clip", parts[1], parts[2])
    if s.startswith("torchvision:"):
        return ModelRef("torchvision", s.split(":", 1)[1])
    p = Path(s).expanduser()
    if p.exists() or s.startswith((".", "/", "~")) or s.count("/") != 1:
        return ModelRef("path", s)
    return ModelRef("hf", s)


@dataclass
class ResolvedModel:
    """Where a model's files are: ``path`` (folder or file) and how it was found.

    :param source: ``"local"``, ``"semlink_models"``, ``"hf_cache"``,
        ``"torch_hub"``, ``"open_clip_cache"``, ``"download"`` or ``"stand_in"``.
    """

    ref: ModelRef
    path: Path
    source: str
    searched: list[str] = field(default_factory=list)

    @property
    def test_model(self) -> bool:
        return is_test_model(self.path)

    def record(self, role: str, state_dict=None, extra: dict | None = None) -> ModelRecord:
        """The :class:`ModelRecord` of this model; hashes ``state_dict`` if given, else the files."""
        return record(self, role, state_dict=state_dict, extra=extra)


def record(resolved: ResolvedModel, role: str, state_dict=None, extra: dict | None = None) -> ModelRecord:
    """ModelRecord with a content hash: of the loaded ``state_dict`` when given, else of the files."""
    from .provenance import hash_state_dict, stand_in_info

    sha = hash_state_dict(state_dict) if state_dict is not None else hash_path(resolved.path)
    stand_in = stand_in_info(resolved.path)
    more = {"stand_in": stand_in} if stand_in else {}
    return ModelRecord(role=role, ref=str(resolved.ref), path=str(resolved.path), sha256=sha,
                       random_init=stand_in is not None, test_model=is_test_model(resolved.path),
                       extra={"source": resolved.source, **more, **(extra or {})})


def _nonempty_dir(p: Path) -> bool:
    return p.is_dir() and any(p.iterdir())


def _hf_cache_dir(repo_id: str) -> Path | None:
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        return None
    try:
        return Path(snapshot_download(repo_id, local_files_only=True))
    except Exception:  # noqa: BLE001 - not cached (or an invalid id): not found
        return None


def _torchvision_file(weights: str) -> str:
    return _torchvision_weights(weights).url.rsplit("/", 1)[-1]


def _torchvision_weights(weights: str):
    from .extras import require

    tv_models = require("torchvision.models", f"torchvision weights {weights!r}")
    try:
        return tv_models.get_weight(weights)
    except (ValueError, KeyError, AttributeError) as exc:
        raise ValueError(f"unknown torchvision weights {weights!r}: use the enum name, e.g. "
                         "'AlexNet_Weights.IMAGENET1K_V1'") from exc


def _open_clip_cfg(name: str, tag: str | None) -> dict:
    from .extras import require

    open_clip = require("open_clip", f"open_clip model {name}:{tag}")
    cfg = open_clip.get_pretrained_cfg(name, tag)
    if not cfg:
        raise ValueError(f"open_clip has no pretrained tag {tag!r} for model {name!r}; see "
                         "open_clip.list_pretrained()")
    return cfg


def _open_clip_cached(cfg: dict) -> Path | None:
    hub = (cfg.get("hf_hub") or "").strip("/")
    if hub:
        try:
            from huggingface_hub import try_to_load_from_cache
        except ImportError:
            return None
        repo, sub = hub, ""
        if hub.count("/") > 1:                  # "org/name/subfolder"
            org, name, sub = hub.split("/", 2)
            repo = f"{org}/{name}"
        for fname in ("open_clip_model.safetensors", "open_clip_pytorch_model.bin"):
            hit = try_to_load_from_cache(repo, f"{sub}/{fname}" if sub else fname)
            if isinstance(hit, str) and os.path.isfile(hit):
                return Path(hit)
    url = cfg.get("url") or ""
    if url:
        f = Path("~/.cache/clip").expanduser() / url.rsplit("/", 1)[-1]
        if f.is_file():
            return f
    return None


def _weights_file(folder: Path) -> Path:
    """The single weights file in an open_clip/torchvision folder (or the folder itself)."""
    files = [f for f in folder.iterdir() if f.suffix in (".pt", ".pth", ".bin", ".safetensors")]
    return files[0] if len(files) == 1 else folder


def resolve(ref: str | ModelRef, allow_download: bool | None = None) -> ResolvedModel:
    """Find a model's files offline first (see the module docstring).

    :param ref: model reference string or :class:`ModelRef`.
    :param allow_download: override :func:`download_allowed` for this call.
    :raises ModelNotFound: when it is not on this machine and downloading is not allowed.

    A ``stand_in:`` reference (or any reference with a stand-in while
    :func:`stand_ins_enabled`) is built on first use (:func:`semlink.stand_ins.materialize`).
    """
    r = substitute(ref)
    searched: list[str] = []
    if r.kind == "stand_in":
        from .stand_ins import materialize, parse

        root = models_dir() / "stand_in"
        path = materialize(parse(r.name), root)
        return ResolvedModel(r, path, "stand_in", [str(root / parse(r.name).folder_name)])
    if r.kind == "path":
        p = Path(r.name).expanduser()
        if p.exists():
            return ResolvedModel(r, p.resolve(), "local", [str(p)])
        raise ModelNotFound(f"model path {r.name!r} does not exist; give an existing model folder "
                            "or weights file")
    local = models_dir() / r.local_id
    searched.append(str(local))
    if local.is_file() or _nonempty_dir(local):
        path = _weights_file(local) if local.is_dir() and r.kind != "hf" else local
        return ResolvedModel(r, path, "semlink_models", searched)
    if r.kind == "hf":
        searched.append("Hugging Face hub cache")
        hit = _hf_cache_dir(r.name)
        if hit is not None and _nonempty_dir(hit):
            return ResolvedModel(r, hit, "hf_cache", searched)
    elif r.kind == "torchvision":
        import torch

        f = Path(torch.hub.get_dir()) / "checkpoints" / _torchvision_file(r.name)
        searched.append(str(f))
        if f.is_file():
            return ResolvedModel(r, f, "torch_hub", searched)
    elif r.kind == "open_clip":
        searched.append("open_clip cache (Hugging Face hub cache, ~/.cache/clip)")
        hit = _open_clip_cached(_open_clip_cfg(r.name, r.tag))
        if hit is not None:
            return ResolvedModel(r, hit, "open_clip_cache", searched)
    allow = download_allowed() if allow_download is None else allow_download
    if allow:
        path = fetch(r)
        return ResolvedModel(r, path, "download", searched)
    exc = ModelNotFound(
        f"model {str(r)!r} is not on this machine (looked in: {'; '.join(searched)}) and "
        f"downloading is off. On a machine with internet run `{r.fetch_command()}` and copy "
        f"<folder>/{r.local_id} to {local}, or set {ENV_MODELS} to that folder; or allow "
        f"downloads here with --allow-download / {ENV_ALLOW_DOWNLOAD}=1.", searched)
    raise exc


def is_available(ref: str | ModelRef) -> bool:
    """True when :func:`resolve` finds the model without downloading (stand-ins: always,
    without building them)."""
    try:
        if substitute(ref).kind == "stand_in":
            return True
        resolve(ref, allow_download=False)
    except (ModelNotFound, ValueError, ImportError):
        return False
    return True


def fetch(ref: str | ModelRef, into: str | Path | None = None) -> Path:
    """Download a model into ``into`` (default ``$SEMLINK_MODELS``); returns its path.

    Needs the network; this is what ``semlink models fetch NAME`` runs.
    """
    r = parse_ref(ref)
    dest = Path(into).expanduser() if into else models_dir()
    target = dest / r.local_id
    if r.kind == "path":
        raise ValueError(f"{r.name!r} is a local path; nothing to fetch")
    if r.kind == "stand_in":
        raise ValueError(f"'stand_in:{r.name}' is built locally on first use; nothing to fetch")
    if r.kind == "hf":
        from .extras import require

        hub = require("huggingface_hub", f"fetching {r.name}")
        hub.snapshot_download(r.name, local_dir=str(target))
        return target
    if r.kind == "torchvision":
        import torch

        weights = _torchvision_weights(r.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(weights.url, str(target), progress=True)
        return target
    from .extras import require

    open_clip = require("open_clip", f"fetching {r}")
    target.mkdir(parents=True, exist_ok=True)
    got = open_clip.pretrained.download_pretrained(_open_clip_cfg(r.name, r.tag), cache_dir=str(target))
    return Path(got)


def open_clip_weights(name: str, pretrained: str) -> str:
    """Weights file for ``open_clip.create_model(name, pretrained=...)``: ``pretrained``
    itself when it is an existing file, else the resolved ``open_clip:NAME:TAG``."""
    if Path(pretrained).expanduser().is_file():
        return str(Path(pretrained).expanduser())
    return str(resolve(ModelRef("open_clip", name, pretrained)).path)


def load_hf(ref: str | ModelRef, model_class, role: str, processor_class=None,
            device: str = DEFAULT_DEVICE, dtype=None):
    """Load a ``transformers`` model (and optionally its processor/tokenizer) through this layer.

    :param model_class: e.g. ``transformers.BartForConditionalGeneration``.
    :param processor_class: e.g. ``transformers.AutoProcessor`` / ``AutoTokenizer``, or `None`.
    :returns: ``(model, processor_or_None, ModelRecord)``; the model is on ``device``, eval mode.
    """
    device = resolve_device(device)   # semlink's device rule: auto -> first GPU, else CPU
    import torch

    resolved = resolve(ref)
    kw = {"local_files_only": True}
    model = model_class.from_pretrained(str(resolved.path), dtype=dtype or torch.float32, **kw)
    processor = processor_class.from_pretrained(str(resolved.path), **kw) if processor_class else None
    model.to(device).eval()
    rec = resolved.record(role, state_dict=model.state_dict(),
                          extra={"class": type(model).__name__})
    if rec.random_init:
        logging.getLogger(__name__).warning(
            "%s: %s is a STAND-IN (published architecture, RANDOM weights, seed %s); its outputs "
            "are meaningless, only its time and memory are real", role, resolved.ref,
            rec.extra.get("stand_in", {}).get("seed"))
    if rec.test_model:
        # logged like a stand-in's (a sweep also announces it once before its first point,
        # from the record's flag; a Python UserWarning here said it a second time)
        logging.getLogger(__name__).warning(
            "%s: %s is a tiny semlink TEST model, not a real %s; its outputs are meaningless",
            role, resolved.path, ref)
    return model, processor, rec


@dataclass(frozen=True)
class CatalogEntry:
    """A model semlink's codecs or metrics use by default.

    :param ref: the model reference.
    :param used_by: e.g. ``["metric answer_match", "codec text (captioner: llava)"]``.
    :param description: what the model is.
    """

    ref: str
    used_by: tuple[str, ...]
    description: str


CATALOG: tuple[CatalogEntry, ...] = (
    CatalogEntry("llava-hf/llava-interleave-qwen-0.5b-hf",
                 ("metric answer_match", "metric relevance_loss", "captioner llava",
                  "codec text (source: captioner)", "trainer uoisc (--vlm)"),
                 "LLaVA-Interleave with Qwen1.5-0.5B (Multi-SC papers' LM), judge and captioner"),
    CatalogEntry("Salesforce/blip-image-captioning-base", ("captioner blip",),
                 "BLIP captioner (VLM-CSC baseline)"),
    CatalogEntry("facebook/bart-base", ("corrector bart", "trainer corrector"),
                 "BART base, receiver-side text corrector (fine-tuned by semlink train corrector)"),
    CatalogEntry("open_clip:ViT-B-16:openai", ("codec uoisc", "trainer uoisc"),
                 "CLIP ViT-B/16 (OpenAI weights) via open_clip"),
    CatalogEntry("openai/clip-vit-base-patch32", ("metric clip_similarity",),
                 "CLIP ViT-B/32 (transformers CLIPModel), cosine similarity of embeddings"),
    CatalogEntry("torchvision:AlexNet_Weights.IMAGENET1K_V1", ("metric lpips",),
                 "ImageNet AlexNet backbone of LPIPS v0.1"),
)


def describe_ref(ref: str | ModelRef) -> dict:
    """Presence, path, size on disk and content hash of a model (for ``semlink models list``)."""
    try:
        resolved = resolve(ref, allow_download=False)
    except (ModelNotFound, ValueError, ImportError) as exc:
        return {"ref": str(ref), "present": False, "path": None, "size_bytes": None,
                "sha256": None, "test_model": False, "why": str(exc).split(". ")[0]}
    p = resolved.path
    size = _du(p)
    return {"ref": str(ref), "present": True, "path": str(p), "source": resolved.source,
            "size_bytes": size, "sha256": hash_path(p), "test_model": resolved.test_model}


def _du(p: Path) -> int:
    return p.stat().st_size if p.is_file() else sum(f.stat().st_size for f in p.rglob("*") if f.is_file())


def locate(ref: str | ModelRef) -> dict:
    """Where a model is, or where it was looked for, without loading, hashing or building it.

    :returns: ``ref`` (as given), ``resolved_ref`` (after stand-in substitution),
        ``present``, ``path``, ``source``, ``searched`` (folders/caches looked in),
        ``size_bytes`` (on disk, `None` when absent or not built), ``stand_in``
        (the stand-in reference or `None`), ``params`` (parameter count when semlink
        has a configuration for the model, else `None`), ``test_model`` and ``why``
        (when absent).
    """
    from . import stand_ins

    try:
        r = substitute(ref)
    except ValueError as exc:
        return {"ref": str(ref), "resolved_ref": str(ref), "present": False, "path": None,
                "source": None, "searched": [], "size_bytes": None, "stand_in": None,
                "params": None, "why": str(exc)}
    sref = stand_ins.parse(r.name) if r.kind == "stand_in" else None
    name = sref.name if sref else stand_ins.STANDS_IN_FOR.get(str(r))
    params = None
    if name is not None:
        try:
            params = stand_ins.total_params(name, sref.scale if sref else "full")
        except (ImportError, ValueError, RuntimeError):
            params = None
    out = {"ref": str(ref), "resolved_ref": str(r), "stand_in": str(r) if sref else None,
           "params": params, "why": None, "test_model": False}
    if sref is not None:
        folder = models_dir() / r.local_id
        built = (folder / stand_ins.STAND_IN_MARKER).is_file()
        return {**out, "present": True, "path": str(folder), "searched": [str(folder)],
                "source": "stand_in" if built else "stand_in (built on first use)",
                "size_bytes": _du(folder) if built else None}
    try:
        res = resolve(r, allow_download=False)
    except ModelNotFound as exc:
        return {**out, "present": False, "path": None, "source": None,
                "searched": list(getattr(exc, "searched", [])), "size_bytes": None,
                "why": str(exc).split(" and downloading")[0]}
    except (ValueError, ImportError) as exc:
        return {**out, "present": False, "path": None, "source": None, "searched": [],
                "size_bytes": None, "why": str(exc)}
    return {**out, "present": True, "path": str(res.path), "source": res.source,
            "searched": res.searched, "size_bytes": _du(res.path),
            "test_model": is_test_model(res.path)}
