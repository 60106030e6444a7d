"""Builds synthetic results.h5 files with known answers (plan and budget-plot tests)."""

import json
import math

import numpy as np

from semlink.links.results import ResultsStore

IMAGES = [f"img{i}.png" for i in range(4)]
SPREAD = np.array([-1.0, -0.5, 0.5, 1.0])      # per-image offsets around each mean


def write_results(out_dir, configs, snrs=(0.0, 10.0), channels=("awgn",), images=IMAGES,
                  resize=64):
    """configs: [(label, symbols, {snr: mean psnr} or a callable(snr, channel) -> mean or None)].

    ``None`` as a mean writes a failed point.
    """
    store = ResultsStore(out_dir)
    scenario = {"dataset": {"path": "imgs", "resize": resize}, "snr_db": list(snrs)}
    store.start({"scenario_json": json.dumps(scenario), "scenario_yaml": "",
                 "env_json": "{}"}, resume=False)
    index = 0
    for c, (label, symbols, means) in enumerate(configs):
        for h, channel in enumerate(channels):
            for s, snr in enumerate(snrs):
                mean = means(snr, channel) if callable(means) else means.get(snr)
                part = {"id": f"c{c:03d}-h{h:02d}-s{s:03d}-r0", "index": index,
                        "codec": label.split("[")[0].split(" ")[0], "codec_label": label,
                        "codec_index": c, "params_json": "{}", "profiles_json": "{}",
                        "channel_label": channel, "channel_index": h, "channel_json": "{}",
                        "snr_index": s, "snr_db": snr, "ebno_db": math.nan, "seed": 0,
                        "error": "", "traceback": "", "images": list(images), "timings": {}}
                if mean is None:
                    part.update(status="failed", error="ValueError: does not fit")
                else:
                    values = (mean + SPREAD[:len(images)]).tolist()
                    part.update(status="ok", symbols_per_image=[symbols] * len(images),
                                fallback=[False] * len(images), metrics={"psnr": values},
                                phy={})
                store.add(part["id"], part)
                index += 1
    return str(store.path)
