"""``semlink ber``: coded/uncoded BER and BLER sweep from the command line."""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys

from .snr_points import check_range, check_values, range_count

log = logging.getLogger(__name__)


def parse_points(text: str, option: str) -> list[float]:
    """Parse ``"1,2,3"``, ``"0:6:0.5"`` (start:stop:step, stop included; a
    negative step runs downwards, ``"6:0:-2"``) or ``"3"``.

    :raises ValueError: not a list or range, a repeated value, or more than
        :data:`~semlink.links.snr_points.MAX_SNR_POINTS` points (a range is counted
        before it is built)."""
    try:
        if ":" in text:
            parts = [float(p) for p in text.split(":")]
            if len(parts) != 3:
                raise ValueError
            start, stop, step = parts
            try:
                range_count(start, stop, step)
            except ValueError as exc:      # well-formed, but the step cannot get there
                raise ValueError(f"{option} {text!r}: {exc}") from None
            check_range(start, stop, step, f"{option} {text!r}")    # counted before any list is built
            from semlink.phy.snr import db_range

            values = db_range(start, stop, step)
        else:
            values = [float(p) for p in text.split(",") if p.strip()]
            check_values(values, f"{option} {text!r}")
    except ValueError as exc:
        if str(exc).startswith(option):
            raise
        raise ValueError(
            f"{option} {text!r} is not a list '1,2,3' or a range 'start:stop:step' "
            "such as '0:6:0.5'"
        ) from None
    if not values or not all(math.isfinite(v) for v in values):
        raise ValueError(f"{option} {text!r} must give at least one finite number")
    return values


def add_parser(sub) -> None:
    p = sub.add_parser("ber", help="coded/uncoded BER/BLER sweep (like Sionna's sim_ber)",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--code", choices=["ldpc5g", "none"], default="ldpc5g")
    p.add_argument("--k", type=int, default=None, help="code input bits per block (CRC included)")
    p.add_argument("--n", type=int, default=None, help="codeword bits per block")
    p.add_argument("--rate", type=float, default=None, help="code rate, instead of --n")
    p.add_argument("--crc", default=None, help="CRC per block (e.g. CRC16, CRC24B); default none")
    p.add_argument("--modulation", default="qpsk", help="bpsk, qpsk, psk8, qam16, ...")
    p.add_argument("--channel", default="awgn", help="channel name (see 'semlink list')")
    p.add_argument("--coherence", default=None,
                   help="fading unit: L (symbols per coefficient, 1 = fast), 'block' (one per "
                        "code block) or 'item' (here the same as block: every block is an item); "
                        "default: the channel's own (fast)")
    p.add_argument("--coherence-length", type=int, default=None,
                   help="deprecated: use --coherence L")
    p.add_argument("--csi", choices=["perfect", "ls"], default=None, help="fading: receiver CSI")
    p.add_argument("--num-pilots", type=int, default=None, help="fading with --csi ls: pilots")
    p.add_argument("--demapping", choices=["app", "maxlog"], default="app")
    p.add_argument("--max-iter", "--num-iter", dest="max_iter", type=int, default=20,
                   help="LDPC BP iterations at most (--num-iter: deprecated spelling)")
    p.add_argument("--early-termination", choices=["on", "off"], default="on",
                   help="stop decoding each code word once its parity checks hold")
    p.add_argument("--decoder", choices=["sionna", "ldpc", "triton", "triton-layered",
                                         "triton-fp16", "triton-bf16"], default="sionna",
                   help="LDPC decoder: Sionna's BP (torch, CPU/GPU), the compiled CPU decoder "
                        "of the optional ldpc package (pip install 'semlink[ldpc-cpu]'), or the "
                        "Triton GPU decoder (triton: as Sionna; triton-layered/-fp16/-bf16: "
                        "layered schedule, half-precision messages)")
    p.add_argument("--interleaver", choices=["auto", "random", "5g", "none"], default="auto",
                   help="bit interleaver (auto: random on fading channels)")
    grp = p.add_mutually_exclusive_group()
    grp.add_argument("--ebno-db", default=None, help="Eb/N0 points: '1,2,3' or '0:6:0.5'")
    grp.add_argument("--snr-db", default=None, help="Es/N0 points per channel use instead")
    p.add_argument("--max-blocks", type=int, default=10_000)
    p.add_argument("--target-block-errors", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:0 ...; default: auto")
    p.add_argument("--no-early-stop", action="store_true",
                   help="also simulate the points above an SNR without block errors "
                        "(by default they are listed as skipped)")
    p.add_argument("--json", action="store_true", help="one JSON object per point (JSON lines)")
    p.set_defaults(func=run)


def _channel_spec(args) -> dict:
    spec = {"name": args.channel}
    if args.coherence is not None and args.coherence_length is not None:
        raise ValueError("give --coherence or the deprecated --coherence-length, not both")
    if args.coherence_length is not None:
        log.warning("semlink ber: --coherence-length is deprecated; use --coherence %s",
                    args.coherence_length)
        spec["coherence"] = {"symbols": args.coherence_length}
    if args.coherence is not None:
        text = args.coherence.strip()
        if text in ("block", "item"):
            spec["coherence"] = text
        elif text.isdigit() and int(text) >= 1:
            spec["coherence"] = {"symbols": int(text)}
        else:
            raise ValueError(f"--coherence {args.coherence!r}: give a number of symbols L >= 1, "
                             "'block' or 'item'")
    for key in ("csi", "num_pilots"):
        value = getattr(args, key)
        if value is not None:
            spec[key] = value
    return spec


def run(args: argparse.Namespace) -> int:
    ebno = parse_points(args.ebno_db, "--ebno-db") if args.ebno_db else None
    snr = parse_points(args.snr_db, "--snr-db") if args.snr_db else None
    if ebno is None and snr is None:
        ebno = parse_points("0:4:1", "--ebno-db")
    from semlink.phy import DigitalChain, set_seed, simulate_ber  # after the points are checked

    set_seed(args.seed)
    chain = DigitalChain(code=args.code, k=args.k, n=args.n, rate=args.rate, crc=args.crc,
                         modulation=args.modulation, channel=_channel_spec(args),
                         demapping=args.demapping, max_iter=args.max_iter,
                         early_termination=args.early_termination == "on",
                         interleaver=args.interleaver, decoder=args.decoder, seed=args.seed,
                         device=args.device)
    desc = chain.describe()
    header = (f"# {desc['code']} k={desc['k']} n={desc['n']} (rate {desc['rate']:.3f}), "
              f"{desc['modulation']}, {desc['channel']}, interleaver {desc['interleaver']}, "
              f"max_iter {desc['max_iter']}, early termination "
              f"{'on' if desc['early_termination'] else 'off'}, decoder {desc['decoder']}, "
              f"device {chain.device}")
    interactive = sys.stderr.isatty() and not args.json
    bar = None
    if args.json:
        print(json.dumps({"config": desc, "device": chain.device}), flush=True)
    else:
        print(header)
        print(f"{'EbNo[dB]':>9} {'EsNo[dB]':>9} {'BER':>10} {'BLER':>10} {'bit_err':>9} "
              f"{'bits':>11} {'blk_err':>8} {'blocks':>8} {'iters':>6} {'time[s]':>8}", flush=True)

    def on_batch(point) -> None:
        nonlocal bar
        if not interactive:
            return
        from tqdm import tqdm

        if bar is None:
            bar = tqdm(total=args.max_blocks, desc=f"Eb/N0 {point.ebno_db:.2f} dB",
                       unit="blk", leave=False, file=sys.stderr)
        bar.update(point.blocks - bar.n)
        bar.set_postfix(ber=f"{point.ber:.2e}", bler=f"{point.bler:.2e}")

    def on_point(point) -> None:
        nonlocal bar
        if bar is not None:
            bar.close()
            bar = None
        if args.json:
            print(json.dumps(point.as_dict()), flush=True)
        elif point.skipped:
            print(f"{point.ebno_db:9.3f} {point.snr_db:9.3f}  skipped: {point.skipped} "
                  "(--no-early-stop simulates it)", flush=True)
        else:
            print(f"{point.ebno_db:9.3f} {point.snr_db:9.3f} {point.ber:10.3e} {point.bler:10.3e} "
                  f"{point.bit_errors:9d} {point.bits:11d} {point.block_errors:8d} "
                  f"{point.blocks:8d} {point.mean_iterations:6.2f} {point.seconds:8.2f}",
                  flush=True)

    simulate_ber(chain, snr_db=snr, ebno_db=ebno, batch_size=args.batch_size,
                 max_blocks=args.max_blocks, target_block_errors=args.target_block_errors,
                 seed=args.seed, early_stop=not args.no_early_stop,
                 on_batch=on_batch, on_point=on_point)
    return 0
