"""Time one small DigitalChain call (12 code blocks) with a given torch thread count.

On a CPU shared by many processes, torch's intra-op threads can spin against
each other; this prints the seconds per call so the effect can be seen:

    .venv/bin/python benchmarks/ldpc_threads.py --threads 2
    .venv/bin/python benchmarks/ldpc_threads.py --threads 1
"""

import argparse
import time

import numpy as np
import torch

from semlink.phy import DigitalChain


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    chain = DigitalChain(code="ldpc5g", k=1024, rate=0.5, modulation="psk8", channel="awgn",
                         seed=0, device="cpu")
    rng = np.random.default_rng(0)
    bits = [rng.integers(0, 2, 2016).astype(np.uint8) for _ in range(6)]   # 2 blocks each
    print(f"torch threads: {torch.get_num_threads()}")
    for snr in (0, 5, 10, 15, 20, 0, 5):
        t0 = time.perf_counter()
        _, rep = chain.transmit(bits, snr_db=snr)
        print(f"Es/N0 {snr:5.1f} dB: {time.perf_counter() - t0:7.3f} s per call, "
              f"{int(rep.block_errors.sum())} of {int(rep.blocks.sum())} blocks failed")


if __name__ == "__main__":
    main()
