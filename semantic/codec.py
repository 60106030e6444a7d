"""The codec interface and the codec registry.

A codec turns images (and optional user queries) into a
:class:`~semlink.semantic.payload.Payload` and a received payload back into
a :class:`~semlink.semantic.payload.Reconstruction`:

.. code-block:: python

    payload = codec.encode(images, queries=None)   # images: list of [3, H, W] float in [0, 1]
    recon = codec.decode(received)                 # received: ReceivedPayload

Codecs register by name in :data:`CODECS` (the same registry mechanism as
channels; entry-point group ``semlink.codecs``) and declare their streams
with a default PHY profile name each (:attr:`Codec.stream_profiles`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from semlink.provenance import ModelRecord
from semlink.registry import Registry

from .payload import Payload, ReceivedPayload, Reconstruction


class Codec(ABC):
    """Base class of source codecs.

    Subclasses set :attr:`stream_profiles` (stream name -> default profile
    name) and :attr:`stream_kinds` (stream name -> ``"digital"``/``"analog"``),
    and implement :meth:`encode`, :meth:`decode` and :meth:`params`; codecs that
    run external tools or learned models also implement :meth:`tools` and
    :meth:`models` (results record all three through :meth:`provenance`).
    ``deterministic_encode = True`` lets sweeps reuse one encoding across
    channels and SNR points. ``deterministic_decode = True`` declares that
    :meth:`decode` depends only on the received streams and side information
    (not on reports, SNR or random numbers), so sweeps reuse the error-free
    reconstruction's metrics wherever every digital stream arrives intact.
    """

    name: str = "codec"
    stream_profiles: dict[str, str] = {}
    stream_kinds: dict[str, str] = {}
    deterministic_encode: bool = True
    deterministic_decode: bool = False
    init_params: dict           # the params make_codec built it with (set by make_codec)

    def bind_profiles(self, mapping: dict[str, str] | None) -> None:
        """Override stream -> profile bindings (from a scenario file)."""
        if not mapping:
            return
        unknown = set(mapping) - set(self.stream_profiles)
        if unknown:
            raise ValueError(
                f"codec {self.name!r} has no stream(s) {sorted(unknown)}; its streams are "
                f"{sorted(self.stream_profiles)}"
            )
        self.stream_profiles = {**self.stream_profiles, **mapping}

    @abstractmethod
    def encode(self, images: list, queries: list | None = None) -> Payload:
        """Images (list of [3, H, W] float in [0, 1]) and optional queries -> payload."""

    def encode_items(self, items: list) -> Payload:
        """Encode dataset items (objects with ``image``, ``captions``, ``queries``).

        Sweeps call this; the default encodes the images with their queries
        (`None` when no item has any). Codecs that send the dataset's
        captions (the ``text`` codec) override it.
        """
        queries = [list(it.queries) for it in items]
        return self.encode([it.image for it in items], queries=queries if any(queries) else None)

    @abstractmethod
    def decode(self, received: ReceivedPayload) -> Reconstruction:
        """Received payload -> reconstruction (same number of images)."""

    def params(self) -> dict[str, Any]:
        """The codec's resolved parameters (defaults filled in), JSON-able, as recorded in results."""
        return {}

    def tools(self) -> dict[str, str]:
        """External tools this codec runs, name -> version (e.g. ``{"openjpeg": "2.5.3"}``)."""
        return {}

    def models(self) -> list[ModelRecord]:
        """Every model whose weights this codec runs: id/path, weight hash, flags.

        Codecs with learned parts return one :class:`~semlink.provenance.ModelRecord`
        per model (checkpoint, backbone, ...); ``random_init``/``test_model``
        flags make a tiny or random model visible in results, summaries and plots.
        """
        return []

    @classmethod
    def declared_models(cls, params: dict) -> list[tuple[str, str]]:
        """``(role, model reference)`` of every pretrained model a codec built with ``params``
        (the scenario's, defaults not yet filled in) would load, read from the parameters
        alone: nothing is built, loaded or downloaded, so ``semlink models check`` and the
        pre-run check of ``semlink run`` list every missing model at once. Codecs with
        pretrained parts override it (see :meth:`param_defaults`); default: none."""
        return []

    @classmethod
    def param_defaults(cls, params: dict) -> dict[str, Any]:
        """``params`` over the defaults of ``__init__``'s signature (subclasses inherit theirs)."""
        import inspect

        out = {name: p.default for name, p in inspect.signature(cls.__init__).parameters.items()
               if p.default is not inspect.Parameter.empty}
        return {**out, **dict(params or {})}

    def required_models(self) -> list[tuple[str, str]]:
        """:meth:`declared_models` of this codec's construction parameters."""
        return type(self).declared_models(getattr(self, "init_params", {}))

    def provenance(self) -> dict[str, Any]:
        """What results record per codec setting: resolved ``params``, ``tools``, ``models``
        (as dicts) and the resolved ``stream_profiles``."""
        return {"params": self.params(), "tools": self.tools(),
                "models": [m.to_dict() for m in self.models()],
                "stream_profiles": dict(self.stream_profiles)}

    def attach_phy(self, chains: dict) -> None:  # noqa: B027 - an optional hook, a no-op by default
        """Receive stream name -> chain before encoding (for symbol budgets); default: ignore."""

    def encode_key(self) -> Any:
        """Extra cache key of an encoding when it depends on the PHY (default `None`)."""
        return None


CODECS: Registry[Codec] = Registry("codec", group="semlink.codecs")


def text_models(corrector: str | None = None, encoding: str | None = None,
                transport: str = "bits", embedding_model: str | None = None) -> list[tuple[str, str]]:
    """``(role, reference)`` of the models a codec's text side loads: the BART corrector
    (``bart`` / ``bart:<ref>``), a ``tokens:<ref>`` tokenizer, the embedding transport's
    table; shared by codecs' :meth:`Codec.declared_models`."""
    from .correction import DEFAULT_BART

    out = []
    if corrector == "bart":
        out.append(("corrector", DEFAULT_BART))
    elif isinstance(corrector, str) and corrector.startswith("bart:"):
        out.append(("corrector", corrector[5:]))
    if transport == "bits" and isinstance(encoding, str) and encoding.startswith("tokens:"):
        out.append(("tokenizer", encoding[7:]))
    if transport == "embedding" and embedding_model:
        out.append(("text_embedding_table", embedding_model))
    return out


def make_codec(name: str, params: dict | None = None, profiles: dict | None = None) -> Codec:
    """Instantiate a registered codec and bind its streams to profiles.

    The built-in codecs are registered by then: importing any module of
    :mod:`semlink.semantic` first runs the package's ``__init__``, which imports
    :mod:`~semlink.semantic.builtin` (registration goes one way: codec modules
    import this module, never the reverse)."""
    codec = CODECS.create(name, **(params or {}))
    if not isinstance(codec, Codec):
        raise TypeError(f"codec {name!r} built a {type(codec).__name__}, not a semlink Codec")
    codec.init_params = dict(params or {})
    codec.bind_profiles(profiles)
    return codec
