"""Scenario files: YAML descriptions of sweeps, validated with key-path errors.

.. code-block:: yaml

    name: raw-vs-analog
    dataset: {path: images/, resize: 64, crop: center, max_images: 8}
    codecs:
      - {name: raw_pixels, params: {downsample: 4}, grid: {bit_depth: [4, 8]},
         profiles: {pixels: ldpc_half}}
      - {name: analog_pixels, params: {downsample: 4}}
    profiles:
      ldpc_half: {kind: digital, code: ldpc5g, rate: 0.5, modulation: psk8}
    channels: [awgn, {name: rayleigh, coherence: block, csi: ls, num_pilots: 4}]
    snr_db: {start: -5, stop: 20, step: 5}     # or a list; or ebno_db: [...]
    seeds: [0]
    metrics: [psnr]
    batch_size: 8
    device: cpu

Relative paths are relative to the scenario file. Every error names the key
path (``codecs[1].params.bit_depth``), the bad value and what is allowed.
Unknown keys are errors.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from semlink.device import DEFAULT_DEVICE, resolve_device

from .snr_points import check_range, check_values

if TYPE_CHECKING:
    from semlink.registry import Registry

    from .profile_grid import ProfileChoice


class ScenarioError(ValueError):
    """A scenario file is invalid; the message names the key path."""


TOP_KEYS = {"name", "description", "dataset", "codecs", "profiles", "channels", "snr_db",
            "ebno_db", "seeds", "seed", "metrics", "batch_size", "device", "precision",
            "output", "ray", "keep_examples"}
DATASET_KEYS = {"path", "captions", "queries", "resize", "crop", "multiple_of", "max_images", "vqa"}
CODEC_KEYS = {"name", "label", "params", "grid", "profiles", "profile_grid"}
RAY_KEYS = {"num_gpus_per_task", "num_cpus_per_task", "num_workers"}


@dataclass
class CodecSetting:
    """One codec at one parameter setting (a sweep axis entry)."""

    index: int
    name: str
    label: str
    params: dict
    profiles: dict
    instance: Any = None        # the Codec built during validation, reused by local sweeps


@dataclass
class ChannelSetting:
    index: int
    label: str
    spec: dict


@dataclass
class Point:
    """One sweep point: codec setting x channel x SNR x seed."""

    index: int
    codec: CodecSetting
    channel: ChannelSetting
    snr_index: int
    snr_db: float | None
    ebno_db: float | None
    seed: int

    @property
    def id(self) -> str:
        return (f"c{self.codec.index:03d}-h{self.channel.index:02d}-s{self.snr_index:03d}"
                f"-r{self.seed}")


@dataclass
class Scenario:
    """A validated scenario. ``raw`` is the file's content as given."""

    raw: dict
    source: str
    base_dir: Path
    dataset: dict
    codecs: list[CodecSetting]
    profiles: dict
    channels: list[ChannelSetting]
    snr_db: list[float] | None
    ebno_db: list[float] | None
    seeds: list[int]
    metrics: list[dict]
    batch_size: int
    device: str
    precision: str | None
    output: str | None
    ray: dict
    keep_examples: Any = None   # N or [image names]: reconstructions kept per point (links/examples.py)

    def points(self) -> list[Point]:
        """All points, codec-major (so encodings are reused across channels and SNRs)."""
        snrs = self.snr_db if self.snr_db is not None else self.ebno_db
        if snrs is None:
            raise ScenarioError("a scenario needs snr_db or ebno_db")   # parse_scenario ensures it
        out: list[Point] = []
        for c, h, (s, _), seed in itertools.product(self.codecs, self.channels,
                                                    enumerate(snrs), self.seeds):
            out.append(Point(len(out), c, h, s,
                             snrs[s] if self.snr_db is not None else None,
                             snrs[s] if self.ebno_db is not None else None, seed))
        return out

    def canonical_json(self) -> str:
        """The scenario as given, as canonical JSON (compared on --resume)."""
        return json.dumps(self.raw, sort_keys=True)


def _fail(path: str, msg: str) -> None:
    raise ScenarioError(f"{path}: {msg}")


def _check_keys(obj: Any, allowed: set, path: str) -> dict:
    if not isinstance(obj, dict):
        _fail(path, f"expected a mapping, got {obj!r}")
    for key in obj:
        if key not in allowed:
            _fail(f"{path}.{key}" if path else str(key),
                  f"unknown key; allowed: {', '.join(sorted(allowed))}")
    return obj


def _number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        _fail(path, f"expected a finite number (dB), got {value!r}")
    return float(value)


def _pos_int(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        _fail(path, f"expected a positive integer, got {value!r}")
    return value


def _snr_list(value: Any, path: str) -> list[float]:
    if isinstance(value, dict):
        _check_keys(value, {"start", "stop", "step"}, path)
        for key in ("start", "stop", "step"):
            if key not in value:
                _fail(f"{path}.{key}", "missing (a range needs start, stop and step)")
        start, stop, step = (_number(value[k], f"{path}.{k}") for k in ("start", "stop", "step"))
        try:
            check_range(start, stop, step, path)       # counted before the list is built
        except ValueError as exc:
            _fail(f"{path}.step", str(exc).removeprefix(f"{path}: "))
        from semlink.phy.snr import db_range

        return db_range(start, stop, step)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [_number(value, path)]
    if not isinstance(value, list) or not value:
        _fail(path, f"expected a non-empty list of numbers or {{start, stop, step}}, got {value!r}")
    values = [_number(v, f"{path}[{i}]") for i, v in enumerate(value)]
    try:
        check_values(values, path)                     # [5, 5]: the same point twice
    except ValueError as exc:
        raise ScenarioError(str(exc)) from None
    return values


def _resolve_path(value: Any, path: str, base: Path) -> str:
    if not isinstance(value, str) or not value:
        _fail(path, f"expected a path string, got {value!r}")
    if value.startswith(("pkg://", "data://")):
        return value
    expanded = os.path.expanduser(os.path.expandvars(value))
    return expanded if os.path.isabs(expanded) else str(base / expanded)


def _keep_examples(value: Any) -> int | list[str] | None:
    from .examples import check_keep_examples

    return check_keep_examples(value, _fail)


def _vqa_block(value: Any, base: Path) -> dict:
    """``dataset.vqa``: VQA-format questions and the animal split (see semlink.vqa)."""
    from semlink.vqa import RULES, SPLITS, VQA_KEYS

    vqa = dict(_check_keys(value, VQA_KEYS, "dataset.vqa"))
    if "questions" not in vqa:
        _fail("dataset.vqa.questions", "missing: a VQA v2 questions JSON, a JSON list or a CSV")
    for key in ("questions", "annotations", "instances"):
        if vqa.get(key) is not None:
            vqa[key] = _resolve_path(vqa[key], f"dataset.vqa.{key}", base)
    if vqa.get("split", "all") not in SPLITS:
        _fail("dataset.vqa.split", f"expected one of {list(SPLITS)}, got {vqa['split']!r}")
    if vqa.get("rule", "either") not in RULES:
        _fail("dataset.vqa.rule", f"expected one of {list(RULES)}, got {vqa['rule']!r}")
    return vqa


def _codecs(value: Any, device: str = DEFAULT_DEVICE, profiles: dict | None = None) -> list[CodecSetting]:
    from semlink.semantic import CODECS

    from .profiles import DEFAULT_PROFILES

    all_profiles = profiles if profiles is not None else dict(DEFAULT_PROFILES)
    if not isinstance(value, list) or not value:
        _fail("codecs", f"expected a non-empty list of codec entries, got {value!r}")
    out: list[CodecSetting] = []
    for i, entry in enumerate(value):
        path = f"codecs[{i}]"
        if isinstance(entry, str):
            entry = {"name": entry}
        _check_keys(entry, CODEC_KEYS, path)
        name = entry.get("name")
        if not isinstance(name, str):
            _fail(f"{path}.name", f"expected a codec name, got {name!r}")
        if name not in CODECS and ":" not in name:
            _fail(f"{path}.name", f"unknown codec {name!r}; available: {', '.join(CODECS.names())}")
        params = entry.get("params", {}) or {}
        grid = entry.get("grid", {}) or {}
        profiles = entry.get("profiles", {}) or {}
        for key, obj in (("params", params), ("grid", grid), ("profiles", profiles)):
            if not isinstance(obj, dict):
                _fail(f"{path}.{key}", f"expected a mapping, got {obj!r}")
        for key, values in grid.items():
            if not isinstance(values, list) or not values:
                _fail(f"{path}.grid.{key}", f"expected a non-empty list of values, got {values!r}")
            if key in params:
                _fail(f"{path}.grid.{key}", "is also given in params; give it in one place")
        label = entry.get("label", name)
        if not isinstance(label, str):
            _fail(f"{path}.label", f"expected a string, got {label!r}")
        choices = _profile_choices(entry, name, profiles, all_profiles, path)
        for grid_label, setting_params in grid_settings(label, params, grid):
            for choice in choices:
                out.append(CodecSetting(len(out), name, grid_label + choice.label,
                                        copy.deepcopy(setting_params),
                                        {**profiles, **choice.profiles}))
                _check_codec(out[-1], path, device)
    labels = [c.label for c in out]
    dup = {lbl for lbl in labels if labels.count(lbl) > 1}
    if dup:
        _fail("codecs", f"labels must be unique, {sorted(dup)} repeat; give each entry a label")
    return out


def grid_settings(label: str, params: dict, grid: dict) -> list[tuple[str, dict]]:
    """One codec entry's settings: ``(label, params)`` per combination of its ``grid``
    (the product of the value lists, the last key varying fastest), labelled
    ``label[key=value,...]``; ``[(label, params)]`` without a grid. The one expansion
    :func:`load_scenario` and ``semlink models check`` (which builds no codec) share."""
    keys = list(grid)
    out = []
    for combo in itertools.product(*(grid[k] for k in keys)) if keys else [()]:
        suffix = ",".join(f"{k}={v}" for k, v in zip(keys, combo, strict=True))
        setting = {**params, **dict(zip(keys, combo, strict=True))}
        out.append((f"{label}[{suffix}]" if suffix else label, setting))
    return out


def _profile_choices(entry: dict, name: str, bindings: dict, all_profiles: dict,
                     path: str) -> list[ProfileChoice]:
    """The entry's profile-grid choices (see :mod:`semlink.links.profile_grid`)."""
    from .profile_grid import ProfileGridError, expand_profile_grid

    try:
        return expand_profile_grid(entry.get("profile_grid"), name, bindings, all_profiles,
                                   f"{path}.profile_grid")
    except ProfileGridError as exc:
        raise ScenarioError(str(exc)) from None


def _check_codec(setting: CodecSetting, path: str, device: str) -> None:
    """Build the codec once (validation); neural codecs get the scenario's device."""
    import inspect

    from semlink.semantic import CODECS, make_codec

    try:
        params = dict(setting.params)
        factory = CODECS.get(setting.name)
        if "device" in inspect.signature(factory).parameters and "device" not in params:
            params["device"] = device
        setting.instance = make_codec(setting.name, params, setting.profiles)
    except (ValueError, TypeError, KeyError) as exc:
        msg = exc.args[0] if exc.args else exc
        _fail(path, f"codec {setting.name!r} with params {setting.params}: {msg}")


def _channels(value: Any) -> list[ChannelSetting]:
    from semlink.phy import make_channel

    if not isinstance(value, list) or not value:
        _fail("channels", f"expected a non-empty list of channels, got {value!r}")
    out = []
    for i, entry in enumerate(value):
        path = f"channels[{i}]"
        spec = {"name": entry} if isinstance(entry, str) else entry
        if not isinstance(spec, dict) or "name" not in spec:
            _fail(path, f"expected a channel name or a mapping with 'name', got {entry!r}")
        spec = dict(spec)
        label = spec.pop("label", spec["name"])
        try:
            make_channel(spec, seed=0, device="cpu")
        except (ValueError, TypeError, KeyError) as exc:
            _fail(path, exc.args[0] if exc.args else str(exc))
        out.append(ChannelSetting(i, str(label), spec))
    labels = [c.label for c in out]
    if len(set(labels)) != len(labels):
        _fail("channels", f"labels must be unique, got {labels}; add label: to each entry")
    return out


def parse_scenario(raw: Any, source: str = "<dict>", base_dir: str | Path = ".") -> Scenario:
    """Validate a scenario mapping (e.g. from YAML) into a :class:`Scenario`.

    Checks that need no codec, metric, channel or torch come first
    (:func:`_light_checks`: keys, paths that must exist, SNR grid, seeds, ...), so a
    wrong file fails in well under a second; then codecs, profiles, the device,
    metrics and channels are built once each.
    """
    base = Path(base_dir)
    light = _light_checks(raw, source, base)
    dataset, user_profiles, snr, ebno = (light[k] for k in ("dataset", "profiles", "snr_db",
                                                             "ebno_db"))
    seeds, precision, ray, output = (light[k] for k in ("seeds", "precision", "ray", "output"))
    batch_size = light["batch_size"]
    # --- from here on, checks that build things (torch, codecs, metrics, channels) ---
    from semlink.metrics import METRICS, PHY_METRICS

    from .profiles import DEFAULT_PROFILES, check_profile

    profiles = dict(DEFAULT_PROFILES)
    for pname, spec in user_profiles.items():
        try:
            profiles[pname] = check_profile(pname, spec)
        except ValueError as exc:
            raise ScenarioError(str(exc)) from None
    device = _check_device(raw.get("device", DEFAULT_DEVICE))
    codecs = _codecs(raw["codecs"], resolve_device(device), profiles)
    for c in codecs:
        for stream, prof in c.instance.stream_profiles.items():
            if prof not in profiles:
                _fail(f"codecs[{c.index}].profiles.{stream}",
                      f"unknown profile {prof!r}; defined: {', '.join(sorted(profiles))}")
        check = getattr(c.instance, "check_profiles", None)     # e.g. text transports vs profile kind
        if check is not None:
            try:
                check({s: profiles[p] for s, p in c.instance.stream_profiles.items()})
            except ValueError as exc:
                _fail(f"codecs[{c.index}] ({c.label})", str(exc))
    if ebno is not None:
        _check_ebno_defined(codecs, profiles)
    metrics = _metrics(raw.get("metrics", ["psnr"]), METRICS, PHY_METRICS)
    return Scenario(raw=raw, source=source, base_dir=base, dataset=dataset, codecs=codecs,
                    profiles=profiles, channels=_channels(raw["channels"]), snr_db=snr,
                    ebno_db=ebno, seeds=list(seeds),
                    metrics=metrics,
                    batch_size=batch_size,
                    device=device, precision=precision, output=output, ray=dict(ray),
                    keep_examples=_keep_examples(raw.get("keep_examples")))


def _light_checks(raw: Any, source: str, base: Path, check_paths: bool = False) -> dict:
    """Every check that needs neither torch nor a codec, metric or channel (< 1 s in all);
    ``check_paths``: also that the dataset's plain paths exist (``semlink run``; a parsed
    scenario may be inspected on a machine without its images)."""
    raw = _check_keys(raw, TOP_KEYS, "")
    for key in ("dataset", "codecs", "channels"):
        if key not in raw:
            _fail(key, "missing (required)")
    dataset = _dataset_block(raw["dataset"], base, check_paths)
    user_profiles = raw.get("profiles", {}) or {}
    if not isinstance(user_profiles, dict):
        _fail("profiles", f"expected a mapping name -> profile, got {user_profiles!r}")
    if ("snr_db" in raw) == ("ebno_db" in raw):
        _fail("snr_db", "give exactly one of snr_db (Es/N0 per channel use) or ebno_db")
    snr = _snr_list(raw["snr_db"], "snr_db") if "snr_db" in raw else None
    ebno = _snr_list(raw["ebno_db"], "ebno_db") if "ebno_db" in raw else None
    if "seed" in raw and "seeds" in raw:
        _fail("seeds", "give seed or seeds, not both")
    seeds = raw.get("seeds", [raw.get("seed", 0)])
    if not isinstance(seeds, list) or not seeds or any(
            isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds):
        _fail("seeds", f"expected a non-empty list of non-negative integers, got {seeds!r}")
    if len(set(seeds)) != len(seeds):
        _fail("seeds", f"{seeds!r} repeats a seed (the same points would run twice); give "
              "each seed once")
    precision = raw.get("precision")
    if precision not in (None, "single", "double"):
        _fail("precision", f"expected 'single' or 'double', got {precision!r}")
    ray = _check_keys(raw.get("ray", {}) or {}, RAY_KEYS, "ray")
    for key, value in ray.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            _fail(f"ray.{key}", f"expected a number >= 0, got {value!r}")
    if "num_workers" in ray and (not isinstance(ray["num_workers"], int) or ray["num_workers"] < 1):
        _fail("ray.num_workers", f"expected a positive integer, got {ray['num_workers']!r}")
    output = raw.get("output")
    if output is not None:
        output = _resolve_path(output, "output", base)
    name = raw.get("name", Path(source).stem)
    if not isinstance(name, str):
        _fail("name", f"expected a string, got {name!r}")
    return {"dataset": dataset, "profiles": user_profiles, "snr_db": snr, "ebno_db": ebno,
            "seeds": seeds, "precision": precision, "ray": ray, "output": output, "name": name,
            "batch_size": _pos_int(raw.get("batch_size", 8), "batch_size")}


def _dataset_block(value: Any, base: Path, check_paths: bool) -> dict:
    """``dataset``: keys checked, paths resolved; with ``check_paths`` a plain path that does
    not exist fails here, before anything is built (a data set semlink can fetch names the
    fetch command)."""
    dataset = dict(_check_keys(value, DATASET_KEYS, "dataset"))
    if "path" not in dataset:
        _fail("dataset.path", "missing: a folder or glob of images")
    if isinstance(dataset["path"], list):
        dataset["path"] = [_resolve_path(v, f"dataset.path[{i}]", base)
                           for i, v in enumerate(dataset["path"])]
        for i, p in enumerate(dataset["path"]):
            if check_paths:
                _must_exist(p, f"dataset.path[{i}]", "an image folder, file or glob pattern")
    else:
        dataset["path"] = _resolve_path(dataset["path"], "dataset.path", base)
        if check_paths:
            _must_exist(dataset["path"], "dataset.path", "an existing image folder or a glob "
                        "pattern such as '/data/kodak/*.png'")
    for key in ("captions", "queries"):
        if dataset.get(key) is not None:
            dataset[key] = _resolve_path(dataset[key], f"dataset.{key}", base)
            if check_paths:
                _must_exist(dataset[key], f"dataset.{key}", "an existing file, or remove the "
                            "setting")
    if dataset.get("vqa") is not None:
        dataset["vqa"] = _vqa_block(dataset["vqa"], base)
    return dataset


def _must_exist(path: str, key: str, what: str) -> None:
    import glob as _glob

    from semlink.data_fetch import names

    if path.startswith("data://"):
        name = path[len("data://"):].split("/", 1)[0]
        if name not in names():
            _fail(key, f"{path!r}: unknown data set {name!r}; known: {', '.join(names())}")
        from semlink.data_fetch import find, not_found_message

        if find(name) is None:
            _fail(key, not_found_message(name))
        return
    if path.startswith("pkg://") or _glob.has_magic(path) or os.path.exists(path):
        return

    known = [n for n in names() if n in Path(path).parts]
    hint = (f"; this is the {known[0]} test data set: fetch it with 'semlink data fetch "
            f"{known[0]}' and use the folder 'semlink data path {known[0]}' prints" if known else "")
    _fail(key, f"{path!r} does not exist; set {key} to {what}{hint}")


def _check_device(device: Any) -> str:
    """``auto`` (default), ``cpu``, ``cuda``/``gpu``, ``cuda:N``; a GPU must be present when
    asked for (:func:`semlink.device.resolve_device`).  Returns the request as written
    (``gpu`` -> ``cuda``); the runner records the resolved device in the results."""
    from semlink.device import DeviceError, cuda_summary_line, is_device_spec

    if not is_device_spec(device) or device is None:
        _fail("device", f"expected 'cpu', 'cuda', 'cuda:N', 'gpu' or 'auto', got {device!r}")
    try:
        resolve_device(device)
    except DeviceError:
        _fail("device", f"{device!r} requested but {cuda_summary_line()}; use device: cpu, or "
              "auto (the first GPU when present, else the CPU)")
    return "cuda" if device == "gpu" else device


def _metrics(value: Any, registry: Registry, phy_metrics: dict[str, str]) -> list[dict]:
    """Metric entries -> [{"name", "params"}] (PHY metrics are always recorded)."""
    if not isinstance(value, list):
        _fail("metrics", f"expected a list of metric names or {{name: ..., params}}, got {value!r}")
    out = []
    for i, entry in enumerate(value):
        spec = {"name": entry} if isinstance(entry, str) else entry
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            _fail(f"metrics[{i}]", f"expected a metric name or a mapping with 'name', got {entry!r}")
        name = spec["name"]
        if name in phy_metrics:
            continue
        if name not in registry:
            _fail(f"metrics[{i}]", f"unknown metric {name!r}; available: "
                  f"{', '.join(sorted(set(registry.names()) | set(phy_metrics)))}")
        params = {k: v for k, v in spec.items() if k != "name"}
        try:
            registry.create(name, **params)
        except (TypeError, ValueError) as exc:
            _fail(f"metrics[{i}]", str(exc.args[0] if exc.args else exc))
        out.append({"name": name, "params": params})
    return out


def _check_ebno_defined(codecs: list[CodecSetting], profiles: dict[str, dict]) -> None:
    for c in codecs:
        used = set(c.instance.stream_profiles.values())
        kinds = {profiles[p].get("kind", "digital") for p in used}
        if len(used) != 1 or kinds != {"digital"}:
            _fail("ebno_db", f"Eb/N0 is defined only when every codec uses exactly one digital "
                  f"profile; codec {c.label!r} uses {sorted(used)}. Use snr_db (Es/N0) instead")


def read_scenario_file(path: str | Path) -> dict:
    """The YAML mapping of a scenario file; every error names the file.

    :raises ScenarioError: missing, a folder, unreadable, not UTF-8 text (a binary file),
        not valid YAML, or empty.
    """
    path = Path(path)
    if not path.is_file():
        raise ScenarioError(f"scenario file {str(path)!r} not found"
                            + (" (it is a folder)" if path.is_dir() else ""))
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{path}: not a text file (byte {exc.start} is not UTF-8); a "
                            "scenario is a YAML text file") from None
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from None
    if raw is None:
        raise ScenarioError(f"{path}: the file is empty")
    return raw


def precheck_scenario(path: str | Path, raw: dict | None = None) -> dict:
    """The checks of :func:`load_scenario` that load nothing heavy (no torch, codec, metric
    or channel): what ``semlink run`` asks first, so a wrong file fails in under a second.

    :param raw: the file's mapping when the caller has read it (:func:`read_scenario_file`);
        `None`: read here.
    :returns: the file's mapping, so ``semlink run`` reads and parses the file once and
        hands it to the model check and :func:`load_scenario` (``raw=``).
    :raises ScenarioError: naming the file and the key path.
    """
    path = Path(path)
    raw = read_scenario_file(path) if raw is None else raw
    try:
        _light_checks(copy.deepcopy(raw), str(path), path.resolve().parent, check_paths=True)
    except ScenarioError as exc:
        raise ScenarioError(f"{path}: {exc}") from None
    return raw


def load_scenario(path: str | Path, device: str | None = None, raw: dict | None = None) -> Scenario:
    """Read and validate a YAML scenario file.

    :param device: when given, replaces the file's ``device`` key (``semlink run --device``);
        it is validated like the key and recorded in the scenario as run.
    :param raw: the file's mapping already read (:func:`precheck_scenario` returns it);
        `None`: read here. Paths in it are still relative to ``path``'s folder.
    """
    path = Path(path)
    raw = read_scenario_file(path) if raw is None else copy.deepcopy(raw)
    if device is not None and isinstance(raw, dict):
        raw = {**raw, "device": device}
    try:
        return parse_scenario(raw, source=str(path), base_dir=path.resolve().parent)
    except ScenarioError as exc:
        raise ScenarioError(f"{path}: {exc}") from None
