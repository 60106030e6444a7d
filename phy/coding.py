"""Channel-code configuration and bitstream segmentation into code blocks.

A bitstream of any length (a JPEG2000 file, UTF-8 text, VQ indices) is cut
into code blocks of ``k_info = k - crc_length`` payload bits; the last block
of each stream is zero-padded (the padding is counted). Each block gets a
3GPP CRC (38.212 Sec. 5.1) and is then LDPC-encoded (5G NR, 38.212 incl.
rate matching) or sent uncoded. Segmentation and reassembly are vectorised:
all blocks of all streams form one ``[num_blocks, k_info]`` tensor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

#: one bitstream: a 1-D array, tensor or list of 0/1 values
BitsLike = np.ndarray | torch.Tensor | Sequence[int]
#: a device as the chains take it (``None``: the default, see :func:`semlink.device.resolve_device`)
DeviceLike = str | torch.device | None

CODES = {"ldpc5g": "3GPP 5G NR LDPC (38.212) with rate matching, BP decoding",
         "none": "uncoded (bits mapped directly), optional CRC per block"}
CRC_LENGTHS = {"CRC24A": 24, "CRC24B": 24, "CRC24C": 24, "CRC16": 16, "CRC11": 11, "CRC6": 6}
DEFAULT_K = 1024


@dataclass(frozen=True)
class CodeConfig:
    """Resolved code parameters of one digital PHY profile.

    :param code: ``"ldpc5g"`` or ``"none"``.
    :param k: bits entering the channel encoder per block, CRC included.
    :param n: coded bits per block (``n = k`` uncoded).
    :param crc: 3GPP CRC polynomial name or `None`.
    """

    code: str
    k: int
    n: int
    crc: str | None

    @property
    def crc_length(self) -> int:
        """CRC bits per block."""
        return CRC_LENGTHS[self.crc] if self.crc else 0

    @property
    def k_info(self) -> int:
        """Payload bits per block (``k`` minus the CRC)."""
        return self.k - self.crc_length

    @property
    def rate(self) -> float:
        """Code rate ``k/n`` (CRC counted as information, as in Sionna)."""
        return self.k / self.n


def make_code_config(code: str = "ldpc5g", k: int | None = None, n: int | None = None,
                     rate: float | None = None, crc: str | None = "auto") -> CodeConfig:
    """Resolve ``code``, ``k``, ``n``, ``rate`` and ``crc`` into a :class:`CodeConfig`.

    For ``ldpc5g`` give any two of ``k``, ``n``, ``rate`` or just one of them
    (defaults: ``k = 1024``, ``rate = 1/2``). ``crc="auto"`` picks CRC16 for
    ``k <= 3824`` and CRC24B above (as 38.212 does for code blocks);
    ``crc=None`` sends no CRC (the receiver then cannot flag failed blocks).
    """
    if code not in CODES:
        raise ValueError(f"code must be one of {sorted(CODES)}, got {code!r}")
    for name, value in (("k", k), ("n", n)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer))
                                  or value < 1):
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if rate is not None and not (isinstance(rate, (int, float)) and 0 < rate <= 1):
        raise ValueError(f"rate must be a number in (0, 1], got {rate!r}")
    if code == "none":
        if rate not in (None, 1, 1.0):
            raise ValueError(f"code='none' is uncoded: rate must be 1 or omitted, got {rate!r}")
        if k is not None and n is not None and k != n:
            raise ValueError(f"code='none' needs k == n (block length), got k={k}, n={n}")
        k = int(k or n or DEFAULT_K)
        n = k
    else:
        if k is not None and n is not None:
            if rate is not None and abs(k / n - rate) > 1e-3:
                raise ValueError(f"k={k}, n={n} give rate {k / n:.4f}, which contradicts rate={rate}")
        elif k is not None:
            n = int(round(k / (rate or 0.5)))
        elif n is not None:
            k = int(round(n * (rate or 0.5)))
        else:
            k = DEFAULT_K
            n = int(round(k / (rate or 0.5)))
        k, n = int(k), int(n)
        if not 12 <= k <= 8448:
            raise ValueError(f"ldpc5g: k must be in [12, 8448] (38.212), got k={k}")
        if not 0.2 <= k / n <= 0.95:
            raise ValueError(
                f"ldpc5g: rate k/n must be in [1/5, 0.95], got k={k}, n={n} (rate {k / n:.3f})"
            )
    if crc == "auto":
        crc = "CRC16" if k <= 3824 else "CRC24B"
    if crc is not None and crc not in CRC_LENGTHS:
        raise ValueError(f"crc must be one of {sorted(CRC_LENGTHS)}, 'auto' or None, got {crc!r}")
    cfg = CodeConfig(code, k, n, crc)
    if cfg.k_info < 1:
        raise ValueError(f"k={k} leaves no payload bits after the {crc} CRC; increase k")
    return cfg


def as_bit_tensor(bits: BitsLike, name: str = "bitstream", device: DeviceLike = None) -> torch.Tensor:
    """Convert one bitstream (0/1 values: list, numpy, torch) to a uint8 tensor."""
    flat, _ = concat_bitstreams([bits], device, name, single=True)
    return flat


def concat_bitstreams(bitstreams: Sequence[BitsLike], device: DeviceLike = None, name: str = "bitstreams",
                      single: bool = False) -> tuple[torch.Tensor, np.ndarray]:
    """All bitstreams as **one** flat uint8 tensor on ``device``, checked once.

    :param bitstreams: list of 1-D 0/1 arrays/tensors/lists (any lengths, 0 allowed).
    :returns: ``(flat, lengths)``: [sum of lengths] uint8 tensor on ``device``
        and a [num_items] int64 numpy array (host) of the lengths.
    :param single: name the stream ``name`` (not ``name[i]``) in errors.
    :raises ValueError: naming ``name[i]`` of the first stream that is not 1-D
        or holds a value other than 0/1.
    """
    single_name = name if single else None
    parts, lengths = [], np.empty(len(bitstreams), dtype=np.int64)
    for i, b in enumerate(bitstreams):
        t = b if isinstance(b, torch.Tensor) else torch.from_numpy(np.asarray(b))
        if t.dim() != 1:
            label = single_name or f"{name}[{i}]"
            raise ValueError(f"{label} must be 1-D (one bitstream), got shape {tuple(t.shape)}")
        parts.append(t)
        lengths[i] = t.shape[0]
    if not parts:
        return torch.zeros(0, dtype=torch.uint8, device=device), lengths
    if len({p.device for p in parts}) > 1:
        parts = [p.to(device) for p in parts]
    flat = (torch.cat(parts) if len(parts) > 1 else parts[0]).to(device)
    if flat.numel():
        unsigned = flat.dtype in (torch.uint8, torch.bool)
        if unsigned and (flat.dtype == torch.bool or int(flat.max()) <= 1):
            return flat.to(torch.uint8), lengths            # one reduction, one host sync
        bad = flat > 1 if unsigned else (flat != 0) & (flat != 1)
        if bool(bad.any()):
            first = int(torch.nonzero(bad)[0, 0])
            i = int(np.searchsorted(np.cumsum(lengths), first, side="right"))
            label = single_name or f"{name}[{i}]"
            raise ValueError(f"{label} must contain only 0/1 bits; use bytes_to_bits() for bytes")
    return flat.to(torch.uint8), lengths


def bytes_to_bits(data: bytes) -> np.ndarray:
    """Bytes -> uint8 array of bits, MSB first."""
    return np.unpackbits(np.frombuffer(bytes(data), dtype=np.uint8))


def bits_to_bytes(bits: BitsLike) -> bytes:
    """uint8 bits (MSB first, length a multiple of 8) -> bytes."""
    arr = np.asarray(bits, dtype=np.uint8)
    if arr.size % 8:
        raise ValueError(f"bits: length {arr.size} is not a multiple of 8")
    return np.packbits(arr).tobytes()


@dataclass
class Segmentation:
    """Which rows of the block matrix hold which stream's payload bits.

    Block ``b`` holds bits ``[0, valid[b])`` of its row (the rest is zero padding
    of a stream's last block).

    :param lengths: [num_items] payload bits per stream (device tensor).
    :param blocks_per_item: [num_items] code blocks per stream (device tensor).
    :param block_item: [num_blocks] index of the stream each block belongs to.
    :param valid: [num_blocks] payload bits in each block (``k_info`` but in last blocks).
    :param lengths_host, blocks_host: the per-stream counts as numpy arrays (no device sync).
    :param padded: whether any block is partly padding (host bool).
    """

    lengths: torch.Tensor
    blocks_per_item: torch.Tensor
    block_item: torch.Tensor
    valid: torch.Tensor
    k_info: int
    lengths_host: np.ndarray
    blocks_host: np.ndarray
    padded: bool

    @property
    def num_blocks(self) -> int:
        return int(self.block_item.numel())

    @property
    def padding_bits(self) -> torch.Tensor:
        """[num_items] zero bits added to fill each stream's last block."""
        return self.blocks_per_item * self.k_info - self.lengths

    def payload_mask(self) -> torch.Tensor | None:
        """[num_blocks, k_info] bool, True on payload bits; `None` when nothing is padding."""
        if not self.padded:
            return None
        cols = torch.arange(self.k_info, device=self.valid.device)
        return cols < self.valid.unsqueeze(1)


def segment(bitstreams: Sequence[BitsLike] | torch.Tensor, k_info: int, device: DeviceLike = None,
            lengths: np.ndarray | None = None,
            dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, Segmentation]:
    """Cut variable-length bitstreams into one ``[num_blocks, k_info]`` tensor.

    Every block is a window of the concatenated bits (one ``index_select`` of
    rows of an unfolded view, no per-bit index); the tails of last blocks are
    then zeroed.

    :input bitstreams: list of 1-D uint8 tensors (0/1), any lengths (0 allowed),
        or (with ``lengths``) their concatenation as one flat tensor.
    :param lengths: [num_items] host int array of the lengths when
        ``bitstreams`` is the flat concatenation (:func:`concat_bitstreams`).
    :param dtype: dtype of the blocks (``torch.float32``; ``torch.uint8`` saves a
        conversion where the consumer reads integers, e.g. an uncoded mapper).
    :output blocks: [num_blocks, k_info], 0/1 of ``dtype``, zero-padded per stream.
    :output seg: :class:`Segmentation` to reassemble with :func:`reassemble`.
    """
    if lengths is None:
        flat, lengths = concat_bitstreams(list(bitstreams), device)
    else:
        if not isinstance(bitstreams, torch.Tensor):
            raise TypeError(f"segment: with lengths, bitstreams must be the flat bit tensor of "
                            f"concat_bitstreams, got {type(bitstreams).__name__}")
        flat, lengths = bitstreams.to(device), np.asarray(lengths, dtype=np.int64)
    blocks_host = (lengths + k_info - 1) // k_info
    num_blocks = int(blocks_host.sum())
    # per block (host, small): source offset in the flat bits and payload bits
    block_item = np.repeat(np.arange(lengths.size), blocks_host)
    first_block = np.cumsum(blocks_host) - blocks_host
    j = np.arange(num_blocks) - first_block[block_item]
    bit_start = np.cumsum(lengths) - lengths
    src = bit_start[block_item] + j * k_info
    valid = np.minimum(k_info, lengths[block_item] - j * k_info)
    padded = bool((valid < k_info).any())
    host = np.concatenate([lengths, blocks_host, block_item, valid, src])
    dev = torch.from_numpy(host).to(device)                        # one transfer
    n, nb = lengths.size, num_blocks
    lengths_t, blocks_t = dev[:n], dev[n:2 * n]
    block_item_t, valid_t, src_t = dev[2 * n:2 * n + nb], dev[2 * n + nb:2 * n + 2 * nb], dev[2 * n + 2 * nb:]
    seg = Segmentation(lengths_t, blocks_t, block_item_t, valid_t, k_info, lengths, blocks_host,
                       padded)
    if num_blocks == 0:
        return torch.zeros(0, k_info, dtype=dtype, device=device), seg
    flat = flat.to(torch.uint8)
    if not padded and flat.numel() == num_blocks * k_info:
        return flat.view(num_blocks, k_info).to(dtype), seg
    padded_flat = torch.cat([flat, torch.zeros(k_info, dtype=torch.uint8, device=flat.device)])
    rows = padded_flat.unfold(0, k_info, 1).index_select(0, src_t)  # [num_blocks, k_info]
    mask = seg.payload_mask()
    return (rows if mask is None else rows * mask).to(dtype), seg


def reassemble(blocks: torch.Tensor, seg: Segmentation) -> list[torch.Tensor]:
    """Inverse of :func:`segment`: ``[num_blocks, k_info]`` -> list of uint8 bitstreams
    (one masked selection, one split)."""
    bits = blocks.to(torch.uint8)
    mask = seg.payload_mask()
    flat = bits.reshape(-1) if mask is None else bits[mask]
    return list(torch.split(flat, seg.lengths_host.tolist()))
