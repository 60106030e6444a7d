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

Each text is encoded with ``encoding`` (``utf8``, ``ascii7`` or
``tokens:<tokenizer>``, see :mod:`semlink.semantic.text`); its bit length is
error-free side information. The receiver decodes the bits and applies the
``corrector`` (``none``, ``symspell``, ``bart``, ``bart:<ref>``; see
:mod:`semlink.semantic.correction`).

The reconstruction carries no images: ``recon.texts`` (received texts per
image, after correction), ``extras["sent_texts"]`` (what was sent, after the
encoding's lossless-or-not round trip, e.g. ASCII transliteration),
``extras["received_raw"]`` (before correction). Use the text metrics
(``cer``, ``wer``, ``bleu``, ``exact_match``) and ``clip_similarity`` with
``mode: text``.
"""

from __future__ import annotations

from .codec import CODECS, Codec
from .payload import Payload, ReceivedPayload, Reconstruction, Stream
from .text import make_text_encoding

SOURCES = ("captions", "captioner")


@CODECS.register("text")
class TextCodec(Codec):
    """Texts (dataset captions or a captioner's output) over digital streams.

    :param source: ``"captions"`` (dataset captions) or ``"captioner"``.
    :param captions_per_image: texts sent per image (streams ``caption0..``).
    :param encoding: ``"utf8"``, ``"ascii7"`` or ``"tokens:<tokenizer ref>"``.
    :param corrector: ``"none"``, ``"symspell"``, ``"bart"`` or ``"bart:<model ref>"``.
    :param captioner: ``"llava"``, ``"blip"`` or a model reference (``source: captioner``).
    :param profile: default PHY profile of every caption stream.
    :param device: device of the captioner / corrector models.
    """

    name = "text"

    def __init__(self, source: str = "captions", captions_per_image: int = 1,
                 encoding: str = "utf8", corrector: str = "none", captioner: str = "llava",
                 profile: str = "default", device: str = "cpu") -> None:
        if source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
        if (isinstance(captions_per_image, bool) or not isinstance(captions_per_image, int)
                or captions_per_image < 1):
            raise ValueError(f"captions_per_image must be a positive int, got {captions_per_image!r}")
        if source == "captioner" and captions_per_image != 1:
            raise ValueError("source: captioner gives one caption per image; set captions_per_image: 1")
        from .correction import make_corrector

        self.source, self.captions_per_image = source, captions_per_image
        self.encoding_spec, self.corrector_spec, self.captioner_spec = encoding, corrector, captioner
        self.device = str(device)
        if encoding in ("utf8", "ascii7"):
            self._encoding = make_text_encoding(encoding)
        elif not (isinstance(encoding, str) and encoding.startswith("tokens:")):
            make_text_encoding(encoding)                     # raises the explanatory error
        else:
            self._encoding = None                           # tokenizer loaded on first use
        self.corrector = make_corrector(corrector, device=self.device)
        self._captioner = None
        self.streams = [f"caption{i}" for i in range(captions_per_image)]
        self.stream_profiles = dict.fromkeys(self.streams, profile)
        self.stream_kinds = dict.fromkeys(self.streams, "digital")

    @property
    def encoding(self):
        if self._encoding is None:
            self._encoding = make_text_encoding(self.encoding_spec)
        return self._encoding

    @property
    def captioner(self):
        if self._captioner is None:
            from .captioning import Captioner

            self._captioner = Captioner(self.captioner_spec, device=self.device)
        return self._captioner

    def params(self) -> dict:
        return {"source": self.source, "captions_per_image": self.captions_per_image,
                "encoding": self.encoding_spec, "corrector": self.corrector_spec,
                **({"captioner": self.captioner_spec} if self.source == "captioner" else {})}

    def required_models(self) -> list[tuple[str, str]]:
        """``(role, model reference)`` of every pretrained model this setting loads."""
        from .captioning import SHORTCUTS
        from .correction import DEFAULT_BART

        out = []
        if self.source == "captioner":
            out.append(("captioner", SHORTCUTS.get(self.captioner_spec, self.captioner_spec)))
        if self.corrector_spec == "bart":
            out.append(("corrector", DEFAULT_BART))
        elif self.corrector_spec.startswith("bart:"):
            out.append(("corrector", self.corrector_spec[5:]))
        if self.encoding_spec.startswith("tokens:"):
            out.append(("tokenizer", self.encoding_spec[7:]))
        return out

    def models(self) -> list:
        """ModelRecords of the captioner, corrector and tokenizer this setting runs (loads them)."""
        out = list(self.corrector.records())
        if self.source == "captioner":
            out.append(self.captioner.record())
        enc = self.encoding
        if getattr(enc, "record", None) is not None:
            out.append(enc.record)
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
        enc = self.encoding
        streams = {name: Stream("digital", [enc.encode(t[j]) for t in chosen], prof)
                   for j, (name, prof) in enumerate(self.stream_profiles.items())}
        side = [{"text_bits": [int(streams[n].data[i].numel()) for n in self.streams],
                 "eval_sent_texts": [enc.round_trip_text(s) for s in t]} for i, t in enumerate(chosen)]
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
            raise ValueError(f"text codec: {len(missing)} image(s) have fewer than "
                             f"captions_per_image={self.captions_per_image} captions (e.g. "
                             f"{missing[0]!r}); set dataset.captions to a captions file")
        return self.encode_texts([list(it.captions) for it in items])

    # -- decoding ----------------------------------------------------------------
    def decode(self, received: ReceivedPayload) -> Reconstruction:
        enc = self.encoding
        raw = [[enc.decode(received.streams[name].data[i].cpu()) for name in self.streams]
               for i in range(received.num_images)]
        flat = [t for texts in raw for t in texts]
        fixed = self.corrector.correct(flat) if flat else []
        k = self.captions_per_image
        corrected = [fixed[i * k:(i + 1) * k] for i in range(received.num_images)]
        sent = [s["eval_sent_texts"] for s in received.side_info]   # evaluation only
        return Reconstruction(images=[], texts=corrected,
                              extras={"sent_texts": sent, "received_raw": raw})
