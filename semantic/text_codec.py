"""The ``text`` codec: captions over the PHY, received (and optionally corrected) text back.

Per image it sends ``captions_per_image`` texts, each in its own digital
stream ``caption0``, ``caption1``, ... on the codec's profile (so each
caption is segmented into its own code blocks and its channel uses are
exact: ``ceil(bits / k_info)`` blocks of the profile). The texts are

* ``source: captions``: the dataset's captions (``dataset.captions:`` in a
  scenario: COCO captions JSON, CSV ``file_name,caption`` or a JSON map), the
  first ``captions_per_image`` of each image; or
* ``source: captioner``: the output of a :class:`~semlink.semantic.captioning.Captioner`
  (``captioner: llava | blip | <model ref>``) on the whole image
  (``captions_per_image`` must be 1).

The sent texts also travel in ``side_info["eval_sent_texts"]`` as the
**evaluation reference only**: the decoder never reads them to decode; it
copies them to ``extras["sent_texts"]`` for the metrics.

Each text crosses the channel through its ``transport``
(:mod:`semlink.semantic.text_transport`): ``bits`` (default) with
``encoding`` (``utf8``, ``ascii7`` or ``tokens:<tokenizer>``, see
:mod:`semlink.semantic.text`) on a digital profile, or ``embedding``: the
token embeddings of a language model's input table (the captioner's with
``source: captioner``, else the model named by ``embedding_model``) on an
analog profile, or scalar-quantised (``quant_bits``, ``quant_clip``) on a
digital one. Its length (bits / tokens) and, for analog embeddings, its power
scale are error-free side information. The receiver decodes and applies the
``corrector`` (``none``, ``symspell``, ``bart``, ``bart:<ref>``; see
:mod:`semlink.semantic.correction`); a ``bart:`` corrector trained by
``semlink train corrector`` for another transport is refused at construction.

The reconstruction carries no images: ``recon.texts`` (received texts per
image, after correction), ``extras["sent_texts"]`` (the texts exactly as the
user sent them, so an encoding's own loss, e.g. ASCII transliteration or a
tokenizer's lowercasing, counts in the metrics), ``extras["received_raw"]``
(before correction). Use the text metrics
(``cer``, ``wer``, ``bleu``, ``exact_match``) and ``clip_similarity`` with
``mode: text``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from semlink.device import DEFAULT_DEVICE, resolve_device

from .codec import CODECS, Codec
from .payload import Payload, ReceivedPayload, Reconstruction, Stream
from .text_transport import BitsTransport, make_transport

if TYPE_CHECKING:
    from .captioning import Captioner
    from .text import TextEncoding


def bits_encoding(transport: object, codec: str) -> TextEncoding:
    """The text encoding of a ``bits`` transport; a clear error for an ``embedding`` one."""
    if not isinstance(transport, BitsTransport):
        raise ValueError(f"{codec}: the text encoding exists only with text_transport 'bits'; "
                         f"this codec sends text as {getattr(transport, 'name', transport)!r}")
    return transport.encoding

SOURCES = ("captions", "captioner")


@CODECS.register("text")
class TextCodec(Codec):
    """Texts (dataset captions or a captioner's output) over digital streams.

    :param source: ``"captions"`` (dataset captions) or ``"captioner"``.
    :param captions_per_image: texts sent per image (streams ``caption0..``).
    :param transport: ``"bits"`` or ``"embedding"`` (see :mod:`~semlink.semantic.text_transport`).
    :param encoding: ``bits`` only: ``"utf8"``, ``"ascii7"`` or ``"tokens:<tokenizer ref>"``.
    :param embedding_model: ``embedding`` only: model reference whose input embedding table and
        tokenizer are sent (default with ``source: captioner``: the captioner's language model).
    :param quant_bits, quant_clip: ``embedding`` on a digital profile: bits per dimension and
        clipping range in per-dimension standard deviations (both, or neither for analog).
    :param corrector: ``"none"``, ``"symspell"``, ``"bart"`` or ``"bart:<model ref>"``.
    :param captioner: ``"llava"``, ``"blip"`` or a model reference (``source: captioner``).
    :param profile: default PHY profile of every caption stream.
    :param device: device of the captioner / corrector models.
    """

    name = "text"

    def __init__(self, source: str = "captions", captions_per_image: int = 1,
                 transport: str = "bits", encoding: str = "utf8",
                 embedding_model: str | None = None, quant_bits: int | None = None,
                 quant_clip: float | None = None, corrector: str = "none",
                 captioner: str = "llava", profile: str = "default", device: str = DEFAULT_DEVICE) -> None:
        device = resolve_device(device)   # semlink's device rule: auto -> first GPU, else CPU
        if source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
        if (isinstance(captions_per_image, bool) or not isinstance(captions_per_image, int)
                or captions_per_image < 1):
            raise ValueError(f"captions_per_image must be a positive int, got {captions_per_image!r}")
        if source == "captioner" and captions_per_image != 1:
            raise ValueError("source: captioner gives one caption per image; set captions_per_image: 1")
        from .correction import check_corrector_transport, make_corrector

        self.source, self.captions_per_image = source, captions_per_image
        self.encoding_spec, self.corrector_spec, self.captioner_spec = encoding, corrector, captioner
        self.transport_spec, self.embedding_model = transport, embedding_model
        self.device = str(device)
        if transport == "embedding" and source == "captions" and not embedding_model:
            raise ValueError("transport: embedding with source: captions needs embedding_model: "
                             "<model ref> (the language model whose token embedding table and "
                             "tokenizer are sent, e.g. facebook/bart-base)")
        self.transport = make_transport(transport, encoding, self._table_loader(),
                                        embedding_model or self.captioner_spec, quant_bits, quant_clip)
        self.corrector = make_corrector(corrector, device=self.device)
        check_corrector_transport(corrector, self.transport.signature())
        self._captioner: Captioner | None = None
        self.streams = [f"caption{i}" for i in range(captions_per_image)]
        self.stream_profiles = dict.fromkeys(self.streams, profile)
        self.stream_kinds = dict.fromkeys(self.streams, self.transport.kind)

    def _table_loader(self):
        from .text_transport import embedding_table_loader

        return embedding_table_loader(self.transport_spec, self.embedding_model,
                                      lambda: self.captioner, self.device)

    @property
    def encoding(self) -> TextEncoding:
        """The text encoding of the ``bits`` transport."""
        return bits_encoding(self.transport, "text")

    def check_profiles(self, profiles: dict[str, dict]) -> None:
        """Refuse stream -> profile bindings the transport cannot ride (before any sweep).

        :param profiles: stream name -> profile spec (``kind: digital | analog``, ...).
        """
        for stream, spec in profiles.items():
            self.transport.check_kind(spec.get("kind", "digital"), f"stream {stream!r}")

    def attach_phy(self, chains: dict) -> None:
        from semlink.phy import AnalogChain

        self.check_profiles({s: {"kind": "analog" if isinstance(c, AnalogChain) else "digital"}
                             for s, c in chains.items() if s in self.stream_profiles})

    @property
    def captioner(self):
        if self._captioner is None:
            from .captioning import Captioner

            self._captioner = Captioner(self.captioner_spec, device=self.device)
        return self._captioner

    def params(self) -> dict:
        return {"source": self.source, "captions_per_image": self.captions_per_image,
                "transport": self.transport.describe(), "corrector": self.corrector_spec,
                **({"captioner": self.captioner_spec} if self.source == "captioner" else {})}

    def required_models(self) -> list[tuple[str, str]]:
        """``(role, model reference)`` of every pretrained model this setting loads."""
        from .captioning import SHORTCUTS
        from .codec import text_models

        out = []
        if self.source == "captioner":
            out.append(("captioner", SHORTCUTS.get(self.captioner_spec, self.captioner_spec)))
        return out + text_models(self.corrector_spec, self.encoding_spec, self.transport_spec,
                                 self.embedding_model)

    def models(self) -> list:
        """ModelRecords of the captioner, corrector, tokenizer / embedding table (loads them)."""
        out = list(self.corrector.records())
        if self.source == "captioner":
            out.append(self.captioner.record())
        out += [r for r in self.transport.records() if r not in out]
        return out

    # -- encoding ----------------------------------------------------------------
    def encode_texts(self, texts: list[list[str]]) -> Payload:
        """Per image a list of exactly ``captions_per_image`` texts -> payload."""
        k = self.captions_per_image
        for i, t in enumerate(texts):
            if len(t) < k or not all(isinstance(s, str) for s in t):
                raise ValueError(f"item {i} has {len(t)} caption(s); the text codec sends "
                                 f"captions_per_image={k} per image (check dataset.captions)")
        chosen = [list(t[:k]) for t in texts]
        tr = self.transport
        coded = [[tr.encode(s) for s in t] for t in chosen]             # per image, per caption
        streams = {name: Stream(tr.kind, [c[j][0] for c in coded], prof)
                   for j, (name, prof) in enumerate(self.stream_profiles.items())}
        side = [{"text_side": [c[j][1] for j in range(k)],
                 "eval_sent_texts": list(t)} for c, t in zip(coded, chosen, strict=True)]
        return Payload(streams, side)

    def encode(self, images: list, queries: list | None = None) -> Payload:
        if self.source != "captioner":
            raise ValueError("text codec with source: captions needs the dataset's captions: "
                             "sweeps call encode_items(); directly, call encode_texts(texts)")
        return self.encode_texts([[c] for c in self.captioner.caption(list(images))])

    def encode_items(self, items: list) -> Payload:
        if self.source == "captioner":
            return self.encode([it.image for it in items])
        missing = [it.name for it in items if len(it.captions) < self.captions_per_image]
        if missing:
            # no image has a caption: most likely dataset.captions is not set; some have
            # them: the file lacks entries for these images (or has too few per image)
            fix = ("set dataset.captions to a captions file (if it is set, it names none of "
                   "these images)" if len(missing) == len(items)
                   and not any(it.captions for it in items) else
                   "add their captions to the dataset.captions file, or lower captions_per_image")
            raise ValueError(f"text codec: {len(missing)} image(s) have fewer than "
                             f"captions_per_image={self.captions_per_image} captions (e.g. "
                             f"{missing[0]!r}); {fix}")
        return self.encode_texts([list(it.captions) for it in items])

    # -- decoding ----------------------------------------------------------------
    def decode(self, received: ReceivedPayload) -> Reconstruction:
        tr = self.transport
        raw = [[tr.decode(received.streams[name].data[i], received.side_info[i]["text_side"][j])
                for j, name in enumerate(self.streams)] for i in range(received.num_images)]
        flat = [t for texts in raw for t in texts]
        fixed = self.corrector.correct(flat) if flat else []
        k = self.captions_per_image
        corrected = [fixed[i * k:(i + 1) * k] for i in range(received.num_images)]
        sent = [s["eval_sent_texts"] for s in received.side_info]   # evaluation only
        return Reconstruction(images=[], texts=corrected,
                              extras={"sent_texts": sent, "received_raw": raw})
