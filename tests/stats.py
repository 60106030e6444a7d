"""Statistical tolerances for Monte-Carlo checks."""

import math


def assert_rate_close(errors, trials, expected, z=4.5, what="rate"):
    """Binomial check: |errors/trials - expected| <= z * sigma (+ tiny absolute slack)."""
    p_hat = errors / trials
    sigma = math.sqrt(max(expected * (1 - expected), 1e-12) / trials)
    assert abs(p_hat - expected) <= z * sigma + 1e-9, (
        f"{what}: simulated {p_hat:.4e} ({errors}/{trials}) vs expected {expected:.4e}, "
        f"{abs(p_hat - expected) / sigma:.1f} sigma"
    )


def two_sample_z(e1, n1, e2, n2):
    p = (e1 + e2) / (n1 + n2)
    se = math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
    return (e1 / n1 - e2 / n2) / se
