"""Flat fading channels (Rayleigh, Rician) with perfect or pilot-estimated CSI.

.. math::

    y_t = h_t x_t + n_t, \\qquad n_t \\sim \\mathcal{CN}(0, n_o), \\qquad
    \\mathbb{E}|h_t|^2 = 1 .

* **Rayleigh**: :math:`h \\sim \\mathcal{CN}(0, 1)`.
* **Rician** with K factor :math:`K` (linear):
  :math:`h = \\sqrt{K/(K+1)} + \\sqrt{1/(K+1)}\\, \\mathcal{CN}(0,1)`
  (line-of-sight phase 0).
* **Coherence length** ``L`` (data symbols): ``h`` is constant over ``L``
  consecutive symbols of a row and independent between blocks of ``L`` and
  between rows. ``L = 1`` is fast (i.i.d.) fading; ``L = None`` keeps one
  coefficient per row, i.e. block fading over a whole code block when the
  digital chain puts one code block per row.
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
  perfect-CSI receiver.
"""

from __future__ import annotations

import math

import torch

from .base import Channel

_CSI_MODES = ("perfect", "ls")


class FlatFadingChannel(Channel):
    """Flat Rayleigh/Rician fading with coherence length and CSI mode.

    :param fading: ``"rayleigh"`` or ``"rician"``.
    :param k_factor: Rician K factor (linear, >= 0); ignored for Rayleigh.
    :param coherence_length: symbols per fading coefficient, ``1`` = fast
        fading, `None` = one coefficient per row (block fading).
    :param csi: ``"perfect"`` or ``"ls"`` (pilot-based least squares).
    :param num_pilots: pilot symbols per coherence block when ``csi="ls"``.
    :param seed, precision, device: see :class:`~semlink.phy.channels.Channel`.

    :input x: [batch, n], torch.complex.
    :input no: scalar or [batch], noise variance per complex symbol.
    :output y: [batch, n], torch.complex, equalised symbols.
    :output no_eff: [batch, n], torch.float, effective noise variance.
    """

    def __init__(self, fading: str = "rayleigh", k_factor: float = 0.0,
                 coherence_length: int | None = 1, csi: str = "perfect",
                 num_pilots: int = 1, seed: int | None = None,
                 precision: str | None = None, device: str | None = None) -> None:
        super().__init__(seed=seed, precision=precision, device=device)
        if fading not in ("rayleigh", "rician"):
            raise ValueError(f"fading must be 'rayleigh' or 'rician', got {fading!r}")
        if not (isinstance(k_factor, (int, float)) and k_factor >= 0 and math.isfinite(k_factor)):
            raise ValueError(f"k_factor must be a finite number >= 0 (linear), got {k_factor!r}")
        if coherence_length is not None and (
            isinstance(coherence_length, bool) or not isinstance(coherence_length, int)
            or coherence_length < 1
        ):
            raise ValueError(
                f"coherence_length must be an int >= 1 (1 = fast fading) or None "
                f"(one coefficient per code block), got {coherence_length!r}"
            )
        if csi not in _CSI_MODES:
            raise ValueError(f"csi must be one of {_CSI_MODES}, got {csi!r}")
        if csi == "ls" and (isinstance(num_pilots, bool) or not isinstance(num_pilots, int)
                            or num_pilots < 1):
            raise ValueError(f"num_pilots must be an int >= 1 with csi='ls', got {num_pilots!r}")
        self.fading = fading
        self.k_factor = float(k_factor) if fading == "rician" else 0.0
        self.coherence_length = coherence_length
        self.csi = csi
        self.num_pilots = int(num_pilots) if csi == "ls" else 0

    def _block_length(self, n: int) -> int:
        return n if self.coherence_length is None else min(self.coherence_length, n)

    def num_pilot_symbols(self, num_data_symbols: int) -> int:
        if self.csi != "ls" or num_data_symbols == 0:
            return 0
        return self.num_pilots * math.ceil(num_data_symbols / self._block_length(num_data_symbols))

    def sample_coefficients(self, shape) -> torch.Tensor:
        """Draw fading coefficients of ``shape`` with E|h|^2 = 1."""
        re = torch.randn(shape, generator=self.generator, device=self.device, dtype=self.dtype)
        im = torch.randn(shape, generator=self.generator, device=self.device, dtype=self.dtype)
        scatter = torch.complex(re, im) / math.sqrt(2.0)
        if self.fading == "rayleigh":
            return scatter
        k = self.k_factor
        return math.sqrt(k / (k + 1)) + math.sqrt(1 / (k + 1)) * scatter

    def call(self, x: torch.Tensor, no) -> tuple[torch.Tensor, torch.Tensor]:
        x = self._check_x(x)
        batch, n = x.shape
        no_row = self._noise_per_row(no, x)                       # [batch, 1]
        length = self._block_length(max(n, 1))
        num_blocks = math.ceil(n / length) if n else 0
        h_blk = self.sample_coefficients((batch, num_blocks))     # [batch, nb]
        h = h_blk.repeat_interleave(length, dim=1)[:, :n]
        y = h * x + self._complex_noise(x.shape, no_row)
        tiny = torch.finfo(self.dtype).tiny ** 0.5
        if self.csi == "perfect":
            h_hat, err_var = h, torch.zeros_like(no_row)
        else:
            pilots = h_blk.unsqueeze(-1) + self._complex_noise(
                (batch, num_blocks, self.num_pilots), no_row.unsqueeze(-1))
            h_hat = pilots.mean(dim=-1).repeat_interleave(length, dim=1)[:, :n]
            err_var = no_row / self.num_pilots
        gain = h_hat.abs().square().clamp_min(tiny)
        y_eq = y * h_hat.conj() / gain
        no_eff = (no_row + err_var) / gain
        return y_eq, no_eff


class RayleighChannel(FlatFadingChannel):
    """Flat Rayleigh fading, h ~ CN(0,1); coherence length and CSI configurable.

    Same parameters as :class:`FlatFadingChannel` without ``fading``/``k_factor``.
    """

    def __init__(self, coherence_length: int | None = 1, csi: str = "perfect",
                 num_pilots: int = 1, seed: int | None = None,
                 precision: str | None = None, device: str | None = None) -> None:
        super().__init__("rayleigh", 0.0, coherence_length, csi, num_pilots, seed,
                         precision, device)


class RicianChannel(FlatFadingChannel):
    """Flat Rician fading with K factor (linear); coherence length and CSI configurable.

    Same parameters as :class:`FlatFadingChannel` without ``fading``.
    """

    def __init__(self, k_factor: float = 1.0, coherence_length: int | None = 1,
                 csi: str = "perfect", num_pilots: int = 1, seed: int | None = None,
                 precision: str | None = None, device: str | None = None) -> None:
        super().__init__("rician", k_factor, coherence_length, csi, num_pilots, seed,
                         precision, device)
