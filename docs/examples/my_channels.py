"""A user's own channel, kept outside the semlink package (worked example).

Used by ``docs/custom_channels.md`` and by ``tests/test_custom_channel.py``.
"""

import math

import torch

from semlink.phy.channels import Channel


class PhaseNoiseAWGN(Channel):
    """AWGN plus Wiener phase noise (std ``sigma_deg`` per symbol), no tracking.

    :input x: [batch, n] complex; :input no: scalar or [batch].
    :output y: [batch, n] complex; :output no_eff: [batch, n] float.
    """

    def __init__(self, sigma_deg: float = 1.0, seed=None, precision=None, device=None):
        super().__init__(seed=seed, precision=precision, device=device)
        if sigma_deg < 0:
            raise ValueError(f"sigma_deg must be >= 0, got {sigma_deg!r}")
        self.sigma = math.radians(sigma_deg)

    def call(self, x, no):
        x = self._check_x(x)
        no_row = self._noise_per_row(no, x)
        steps = torch.randn(x.shape, generator=self.generator, device=self.device,
                            dtype=self.dtype) * self.sigma
        phase = torch.cumsum(steps, dim=1)
        y = x * torch.exp(1j * phase) + self._complex_noise(x.shape, no_row)
        return y, no_row.expand(x.shape)
