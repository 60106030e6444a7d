"""Flat fading channels (Rayleigh, Rician) with perfect or pilot-estimated CSI.

.. math::

    y_t = h_t x_t + n_t, \\qquad n_t \\sim \\mathcal{CN}(0, n_o), \\qquad
    \\mathbb{E}|h_t|^2 = 1 .

* **Rayleigh**: :math:`h \\sim \\mathcal{CN}(0, 1)`.
* **Rician** with K factor :math:`K` (linear):
  :math:`h = \\sqrt{K/(K+1)} + \\sqrt{1/(K+1)}\\, \\mathcal{CN}(0,1)`
  (line-of-sight phase 0).
* **Coherence** (the fading unit, the same in every chain):

  - ``{"symbols": L}``: ``h`` is constant over ``L`` consecutive symbols of
    one stream of one image and independent otherwise (``L = 1``: fast,
    i.i.d. fading). On the digital chain the symbols of an image's code
    blocks are counted one after the other, so an interval may span two
    code blocks.
  - ``"block"``: one coefficient per code block (digital chain only; the
    analog chain has no code blocks and refuses it).
  - ``"item"``: one coefficient for all symbols of an image on a profile,
    across all its code blocks and all its streams on that profile: the
    single-``h`` slow-fading channel of deep JSCC (Bourtsoulatze et al.
    2019) and UO-ISC.

  Called directly on a ``[batch, n]`` tensor (no
  :class:`~semlink.phy.channels.draws.DrawPlan`), each row is one item.
  The old ``coherence_length=L`` is accepted with a :class:`FutureWarning`
  (it means ``{"symbols": L}``); ``coherence_length=None`` meant different
  units in the two chains and is refused with the new spellings.
* **CSI** ``"perfect"``: the receiver knows ``h``; zero-forcing gives
  :math:`\\tilde y = y/h = x + n/h` with effective noise
  :math:`n_o/|h|^2` per symbol, the variance the demapper must use.
* **CSI** ``"ls"``: each coherence block is preceded by ``num_pilots`` pilot
  symbols ``p = 1`` (unit energy, counted as channel uses). The LS estimate
  is :math:`\\hat h = \\frac{1}{N_p}\\sum y_p`, with error
  :math:`e = h - \\hat h \\sim \\mathcal{CN}(0, n_o/N_p)`. Equalising with
  :math:`\\hat h` gives :math:`\\tilde y = x + (e x + n)/\\hat h`, and the
  demapper uses :math:`(n_o + n_o/N_p)/|\\hat h|^2` (estimation error treated
  as extra Gaussian noise, ``Es = 1``). As ``N_p`` grows this tends to the
  perfect-CSI receiver. Pilots are sent per coherence interval (per code
  block with ``block``, per stream of an image with ``item``).
* **CSI** ``"none"``: the receiver does not equalise; it gets
  :math:`y = h x + n` and ``no_eff = n_o``. This is deep JSCC's slow-fading
  experiment, where the decoder network learns to cope with ``h``. Only
  analog streams can use it: a digital demapper computes LLRs from distances
  to the constellation, which a random phase rotation by ``h`` makes
  meaningless, so digital profiles need CSI (``perfect`` or ``ls``) and the
  digital chain refuses ``none``.
"""

from __future__ import annotations

import math
import warnings

import torch

from ..counter_rng import complex_normal
from .base import Channel

_CSI_MODES = ("perfect", "ls", "none")
COHERENCE_UNITS = ("block", "item")


def parse_coherence(coherence, coherence_length="unset"):
    """Normalise ``coherence`` (and the deprecated ``coherence_length``).

    :returns: ``("symbols", L)``, ``("block", None)`` or ``("item", None)``.
    :raises ValueError: naming the argument, the value and the accepted spellings.
    """
    spellings = "{'symbols': L} (L >= 1; 1 = fast fading), 'block' or 'item'"
    if coherence_length != "unset":
        if coherence is not None:
            raise ValueError("give coherence or the deprecated coherence_length, not both")
        if coherence_length is None:
            raise ValueError(
                "coherence_length: null meant one coefficient per code block on the digital "
                "chain but one per image on the analog chain; write coherence: block (one per "
                "code block) or coherence: item (one per image, all its blocks and streams)")
        if isinstance(coherence_length, bool) or not isinstance(coherence_length, int) \
                or coherence_length < 1:
            raise ValueError(f"coherence_length must be an int >= 1, got {coherence_length!r}; "
                             f"better write coherence: {{symbols: L}}")
        warnings.warn(f"coherence_length: {coherence_length} is deprecated; write "
                      f"coherence: {{symbols: {coherence_length}}}", FutureWarning,
                      stacklevel=3)
        return ("symbols", int(coherence_length))
    if coherence is None:
        return ("symbols", 1)
    if isinstance(coherence, str):
        if coherence not in COHERENCE_UNITS:
            raise ValueError(f"coherence must be {spellings}, got {coherence!r}")
        return (coherence, None)
    if isinstance(coherence, dict) and set(coherence) == {"symbols"}:
        value = coherence["symbols"]
        if not isinstance(value, bool) and isinstance(value, int) and value >= 1:
            return ("symbols", int(value))
    raise ValueError(f"coherence must be {spellings}, got {coherence!r}")


class FlatFadingChannel(Channel):
    """Flat Rayleigh/Rician fading with a coherence unit and a CSI mode.

    :param fading: ``"rayleigh"`` or ``"rician"``.
    :param k_factor: Rician K factor (linear, >= 0); ignored for Rayleigh.
    :param coherence: ``{"symbols": L}`` (``L = 1``: fast fading, the
        default), ``"block"`` or ``"item"``; see the module docstring.
    :param coherence_length: deprecated spelling of ``{"symbols": L}``.
    :param csi: ``"perfect"``, ``"ls"`` (pilot-based least squares) or
        ``"none"`` (no equalisation; analog streams only).
    :param num_pilots: pilot symbols per coherence block when ``csi="ls"``.
    :param seed, precision, device: see :class:`~semlink.phy.channels.Channel`.

    :input x: [batch, n], torch.complex.
    :input no: scalar or [batch], noise variance per complex symbol.
    :output y: [batch, n], torch.complex, equalised symbols.
    :output no_eff: [batch, n], torch.float, effective noise variance.
    """

    joins_item_rows = True
    counter_draws = True

    def __init__(self, fading: str = "rayleigh", k_factor: float = 0.0,
                 coherence: str | dict | None = None, csi: str = "perfect",
                 num_pilots: int = 1, seed: int | None = None,
                 precision: str | None = None, device: str | None = None,
                 coherence_length="unset") -> None:
        super().__init__(seed=seed, precision=precision, device=device)
        self.coherence_unit, self.coherence_symbols = parse_coherence(coherence, coherence_length)
        if fading not in ("rayleigh", "rician"):
            raise ValueError(f"fading must be 'rayleigh' or 'rician', got {fading!r}")
        if not (isinstance(k_factor, (int, float)) and k_factor >= 0 and math.isfinite(k_factor)):
            raise ValueError(f"k_factor must be a finite number >= 0 (linear), got {k_factor!r}")
        if csi not in _CSI_MODES:
            raise ValueError(f"csi must be one of {_CSI_MODES}, got {csi!r}")
        if csi == "ls" and (isinstance(num_pilots, bool) or not isinstance(num_pilots, int)
                            or num_pilots < 1):
            raise ValueError(f"num_pilots must be an int >= 1 with csi='ls', got {num_pilots!r}")
        self.fading = fading
        self.k_factor = float(k_factor) if fading == "rician" else 0.0
        self.csi = csi
        self.num_pilots = int(num_pilots) if csi == "ls" else 0

    @property
    def coherence(self):
        """The coherence unit as written in a profile: ``{"symbols": L}``, ``"block"``, ``"item"``."""
        if self.coherence_unit == "symbols":
            return {"symbols": self.coherence_symbols}
        return self.coherence_unit

    def num_pilot_symbols(self, num_data_symbols: int) -> int:
        """Pilots of a row (a code block, or one stream of an image) of data symbols."""
        if self.csi != "ls" or num_data_symbols == 0:
            return 0
        if self.coherence_unit != "symbols":
            return self.num_pilots
        return self.num_pilots * math.ceil(num_data_symbols / self.coherence_symbols)

    def sample_coefficients(self, shape, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw fading coefficients of ``shape`` with E|h|^2 = 1 (counter-based
        ``"fading"`` draws of one fresh stream keyed from ``generator`` or the
        channel's own)."""
        gen = generator or self.generator
        seeds = torch.randint(0, 2**62, (1,), generator=gen, device=self.device)
        count = math.prod(shape)
        index = torch.arange(count, dtype=torch.int64, device=self.device).unsqueeze(0)
        z = complex_normal(seeds, "fading", index, self.dtype).reshape(shape)
        return self._coefficients(z)

    def _coefficients(self, z: torch.Tensor) -> torch.Tensor:
        """Fading coefficients from CN(0, 1) draws ``z``."""
        if self.fading == "rayleigh":
            return z
        k = self.k_factor
        return math.sqrt(k / (k + 1)) + math.sqrt(1 / (k + 1)) * z

    def _coherence_draws(self, no_row: torch.Tensor, n: int):
        """Per-interval coefficients and pilot estimates, and each symbol's interval.

        :returns: ``h_blk`` [rows, m], ``h_hat_blk`` [rows, m] (`None` unless
            ``csi="ls"``), ``col`` [rows, n] int64 index into the m intervals
            (`None`: one interval per row, m = 1).
        """
        d, dt = self.draws, self.dtype
        rows, dev = d.seeds.shape[0], d.seeds.device
        group = False
        col = None
        if self.coherence_unit == "item":      # one h per group; pilots once per item
            group, index = True, torch.zeros(rows, 1, dtype=torch.int64, device=dev)
        elif self.coherence_unit == "block":   # one h per row (code block)
            index = d.block.unsqueeze(1)
        else:                                  # {symbols: L}, counted along the item
            L = self.coherence_symbols
            first = d.offsets // L
            aligned = d.width % L == 0             # every row starts an interval
            m = -(-n // L) + (0 if aligned else 1)
            index = first.unsqueeze(1) + torch.arange(m, dtype=torch.int64, device=dev)
            if L > 1 and not (aligned and m == 1):
                col = d.symbol_index() // L - first.unsqueeze(1)
        tag = "group_fading" if group else "fading"
        h_blk = self._coefficients(d.complex_normal(tag, index, dt, group=group))
        h_hat_blk = None
        if self.csi == "ls":
            P = self.num_pilots
            pilot_index = index.unsqueeze(-1) * P + torch.arange(P, device=dev)
            noise = d.complex_normal("pilot_noise", pilot_index, dt)        # [rows, m, P]
            h_hat_blk = h_blk + noise.mean(dim=-1) * torch.sqrt(no_row).to(dt)
        return h_blk, h_hat_blk, col

    @staticmethod
    def _expand(blk: torch.Tensor, col, n: int) -> torch.Tensor:
        if col is not None:
            return blk.gather(1, col)
        return blk.expand(-1, n) if blk.shape[1] == 1 else blk

    def call(self, x: torch.Tensor, no) -> tuple[torch.Tensor, torch.Tensor]:
        # complex products written out in real arithmetic: elementwise IEEE
        # operations give the same bits wherever a symbol sits in the batch
        # (vectorised and scalar kernel paths agree) and on every device
        x = self._check_x(x)
        n = x.shape[1]
        no_row = self._noise_per_row(no, x)                       # [batch, 1]
        h_blk, h_hat_blk, col = self._coherence_draws(no_row, n)
        hr, hi = (self._expand(part, col, n) for part in _parts(h_blk))
        xr, xi = _parts(x)
        nr, ni = _parts(self._complex_noise(x.shape, no_row))
        yr, yi = hr * xr - hi * xi + nr, hr * xi + hi * xr + ni
        if self.csi == "none":
            return torch.complex(yr, yi), no_row.expand(x.shape)
        tiny = torch.finfo(self.dtype).tiny ** 0.5
        if self.csi == "perfect":
            gr, gi, err_var = hr, hi, torch.zeros_like(no_row)
        else:
            gr, gi = (self._expand(part, col, n) for part in _parts(h_hat_blk))
            err_var = no_row / self.num_pilots
        gain = (gr * gr + gi * gi).clamp_min(tiny)
        y_eq = torch.complex((yr * gr + yi * gi) / gain, (yi * gr - yr * gi) / gain)
        no_eff = (no_row + err_var) / gain
        return y_eq, no_eff


def _parts(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Real and imaginary parts of a complex tensor (views)."""
    r = torch.view_as_real(z)
    return r[..., 0], r[..., 1]


class RayleighChannel(FlatFadingChannel):
    """Flat Rayleigh fading, h ~ CN(0,1); coherence and CSI configurable.

    Same parameters as :class:`FlatFadingChannel` without ``fading``/``k_factor``.
    """

    def __init__(self, coherence: str | dict | None = None, csi: str = "perfect",
                 num_pilots: int = 1, seed: int | None = None,
                 precision: str | None = None, device: str | None = None,
                 coherence_length="unset") -> None:
        super().__init__("rayleigh", 0.0, coherence, csi, num_pilots, seed,
                         precision, device, coherence_length)


class RicianChannel(FlatFadingChannel):
    """Flat Rician fading with K factor (linear); coherence and CSI configurable.

    Same parameters as :class:`FlatFadingChannel` without ``fading``.
    """

    def __init__(self, k_factor: float = 1.0, coherence: str | dict | None = None,
                 csi: str = "perfect", num_pilots: int = 1, seed: int | None = None,
                 precision: str | None = None, device: str | None = None,
                 coherence_length="unset") -> None:
        super().__init__("rician", k_factor, coherence, csi, num_pilots, seed,
                         precision, device, coherence_length)
