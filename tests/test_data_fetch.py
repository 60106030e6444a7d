"""Named test data sets: committed digests, resolution order, fetching from a mirror.

There is no internet on the test machines: every fetch here reads a mirror
built in ``tmp_path`` from the test data found by ``shared_data_dir`` (so a
missing data set fails these tests, with the fetch command).
"""

import hashlib
import json
import os
from pathlib import Path

import pytest

from conftest import shared_data_dir
from semlink import data_fetch as df
from semlink.data import ImageDataset
from semlink.links.cli import main

KODAK_FIRST = "a56e27cbf5f843c048b6af1d6e090760e9c92fadba88b7dee0205918a37523bd"  # README, kodim01
KODAK_LIST_DIGEST = "3eaa5bd52eb8c894d351cf607028f5d3d80e778fd0267eeff8c73d66539a25d5"


@pytest.fixture
def sources():
    """The test data found the usual way, before :func:`isolated` hides it."""
    return {name: shared_data_dir(name) for name in df.names()}


@pytest.fixture
def isolated(tmp_path, monkeypatch, sources):
    """No $SEMLINK_DATA, no mirror, a private user cache; returns a fake checkout root."""
    monkeypatch.delenv("SEMLINK_DATA", raising=False)
    monkeypatch.delenv("SEMLINK_DATA_MIRROR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(df, "_checkout_root", lambda: tmp_path / "checkout")
    return tmp_path / "checkout"


def _mirror(tmp_path: Path, name: str, sources: dict, only: list[str] | None = None) -> Path:
    """A mirror laid out as MIRROR/name/<path> (symlinks to the test data, or copies of ``only``)."""
    src = sources[name]
    root = tmp_path / "mirror"
    for f in df.source(name).files:
        if f.url is None or (only is not None and f.path not in only):
            continue
        target = root / name / f.path
        target.parent.mkdir(parents=True, exist_ok=True)
        if only is None:
            target.symlink_to(src / f.path)
        else:
            target.write_bytes((src / f.path).read_bytes())
    return root


def test_committed_digests_are_the_published_kodak_list():
    kodak = df.source("kodak24")
    assert [f.path for f in kodak.files] == [f"kodim{i:02d}.png" for i in range(1, 25)]
    assert kodak.files[0].sha256 == KODAK_FIRST
    # `sha256sum kodim*.png | sha256sum` quoted by public projects for the r0k.us files
    listing = "".join(f"{f.sha256}  {f.path}\n" for f in kodak.files).encode()
    assert hashlib.sha256(listing).hexdigest() == KODAK_LIST_DIGEST
    assert kodak.files[23].url == "https://r0k.us/graphics/kodak/kodak/kodim24.png"


def test_coco_sources_match_the_annotations_and_bundled_files_match_digests():
    coco = df.source("coco-sample")
    images = [f for f in coco.files if f.path.startswith("val2017/")]
    bundled = [f for f in coco.files if f.url is None]
    assert len(images) == 30 and len(bundled) == 3
    pkg = Path(df.__file__).parent / "datasets" / "coco-sample"
    for f in bundled:
        assert df.sha256_file(pkg / f.path) == f.sha256, f.path
    ann = json.loads((pkg / "annotations.json").read_text())["images"]
    urls = {e["file_name"]: e["coco_url"] for e in ann.values()}
    assert {f.path: f.url for f in images} == urls   # COCO's own coco_url for each image
    assert (pkg / "LICENSE.md").read_text().count("CC BY 4.0") >= 1


def test_resolution_order_semlink_data_then_shared_then_cache(tmp_path, isolated, monkeypatch, sources):
    mirror = _mirror(tmp_path, "kodak24", sources)
    cache = df.cache_dir()
    assert cache == tmp_path / "xdg" / "semlink" / "data"
    assert df.find("kodak24") is None
    assert "semlink data fetch kodak24" in df.not_found_message("kodak24")
    with pytest.raises(df.DataError, match="semlink data fetch kodak24"):
        df.require("kodak24")
    df.fetch("kodak24", mirror=str(mirror))                    # default target: the cache
    assert df.find("kodak24") == cache / "kodak24"
    shared = isolated.parent / "shared" / "data"
    df.fetch("kodak24", dest=shared, mirror=str(mirror))
    assert df.find("kodak24") == (shared / "kodak24").resolve()
    explicit = tmp_path / "explicit"
    monkeypatch.setenv("SEMLINK_DATA", str(explicit))
    assert df.fetch_root() == explicit
    assert df.find("kodak24") == (shared / "kodak24").resolve()   # incomplete $SEMLINK_DATA: next
    df.fetch("kodak24", mirror=str(mirror))                    # default target: $SEMLINK_DATA
    assert df.find("kodak24") == explicit / "kodak24"
    (explicit / "kodak24" / "kodim05.png").unlink()            # incomplete again: falls through
    assert df.find("kodak24") == (shared / "kodak24").resolve()


def test_fetch_from_file_url_mirror_checks_every_file_and_writes_sums(tmp_path, isolated, sources):
    mirror = _mirror(tmp_path, "coco-sample", sources)
    folder = df.fetch("coco-sample", dest=tmp_path / "d", mirror=mirror.as_uri())
    assert df.verify("coco-sample", folder) == []
    assert (folder / "SHA256SUMS").read_text() == (sources["coco-sample"] / "SHA256SUMS").read_text()
    assert not list(folder.rglob("*.part"))
    ds = ImageDataset(str(folder / "val2017"), captions=str(folder / "annotations.json"))
    assert len(ds) == 30 and sum(len(it.captions) for it in ds) == 150


def test_bad_checksum_is_a_clear_error_and_the_bad_file_is_not_kept(tmp_path, isolated, sources):
    mirror = _mirror(tmp_path, "kodak24", sources, only=["kodim01.png", "kodim02.png"])
    bad = mirror / "kodak24" / "kodim02.png"
    data = bytearray(bad.read_bytes())
    data[1000] ^= 0xFF
    bad.write_bytes(bytes(data))
    with pytest.raises(df.DataError) as err:
        df.fetch("kodak24", dest=tmp_path / "d", mirror=str(mirror))
    msg = str(err.value)
    expected = df.source("kodak24").files[1].sha256
    assert "kodim02.png" in msg and expected in msg and "not kept" in msg
    assert "23 of 24 file(s) not fetched" in msg and "semlink data fetch kodak24" in msg
    folder = tmp_path / "d" / "kodak24"
    assert (folder / "kodim01.png").is_file()                  # the good file is kept
    assert not (folder / "kodim02.png").exists() and not list(folder.glob("*.part"))
    assert df.missing_files("kodak24", folder)[:2] == ["kodim02.png", "kodim03.png"]


def test_present_files_are_kept_and_wrong_ones_replaced(tmp_path, isolated, sources):
    mirror = _mirror(tmp_path, "kodak24", sources)
    folder = df.fetch("kodak24", dest=tmp_path / "d", mirror=str(mirror))
    (folder / "kodim03.png").write_bytes(b"not a png")
    before = (folder / "kodim04.png").stat().st_mtime_ns
    seen = []
    real_open = df._open
    df_open = lambda loc: (seen.append(loc), real_open(loc))[1]  # noqa: E731
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(df, "_open", df_open)
        df.fetch("kodak24", dest=tmp_path / "d", mirror=mirror.as_uri())
    assert [os.path.basename(s) for s in seen] == ["kodim03.png"]
    assert (folder / "kodim04.png").stat().st_mtime_ns == before
    assert df.verify("kodak24", folder) == []


def test_public_sources_are_the_default(tmp_path, isolated, monkeypatch, sources):
    """Without a mirror every image is asked from its public URL (served here from the copy)."""
    src = sources["coco-sample"]
    asked = []

    def fake_open(location):
        asked.append(location)
        return open(src / "val2017" / location.rsplit("/", 1)[1], "rb")

    monkeypatch.setattr(df, "_open", fake_open)
    df.fetch("coco-sample", dest=tmp_path / "d")
    assert len(asked) == 30
    assert asked[0] == "http://images.cocodataset.org/val2017/000000000139.jpg"


def test_cli_fetch_list_and_errors(tmp_path, isolated, capsys, monkeypatch, sources):
    mirror = _mirror(tmp_path, "kodak24", sources)
    assert main(["data", "list", "--check"]) == 1
    out = capsys.readouterr().out
    assert "MISSING: fetch with 'semlink data fetch kodak24'" in out
    assert main(["data", "fetch", "kodak25"]) == 2
    assert "unknown data set 'kodak25'; known: coco-sample, kodak24" in capsys.readouterr().err
    assert main(["data", "fetch"]) == 2
    monkeypatch.setenv("SEMLINK_DATA_MIRROR", str(mirror))
    assert main(["data", "fetch", "kodak24"]) == 0
    assert str(df.cache_dir() / "kodak24") in capsys.readouterr().out
    assert main(["data", "fetch", "kodak24"]) == 0
    assert "found at" in capsys.readouterr().out
    assert main(["data", "path", "kodak24"]) == 0
    assert capsys.readouterr().out.strip() == str(df.cache_dir() / "kodak24")
    assert main(["data", "fetch", "coco-sample"]) == 2          # the mirror has no COCO images
    err = capsys.readouterr().err
    assert "30 of 33 file(s) not fetched" in err and "000000000139.jpg" in err
    assert main(["data", "list", "--verify", "--json"]) == 1
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["data_sets"]}
    assert rows["kodak24"]["problems"] == [] and rows["coco-sample"]["path"] is None


def test_common_root_is_the_first_root_holding_every_data_set(tmp_path, isolated, monkeypatch, sources):
    mirror = _mirror(tmp_path, "kodak24", sources)
    mirror = _mirror(tmp_path, "coco-sample", sources)               # same root: MIRROR/NAME/...
    assert df.common_root() is None
    df.fetch("kodak24", mirror=str(mirror))
    assert df.common_root() is None                          # the COCO sample is still missing
    shared = isolated.parent / "shared" / "data"
    df.fetch("coco-sample", dest=shared, mirror=str(mirror))
    assert df.common_root() is None                          # split over two roots
    df.fetch("coco-sample", mirror=str(mirror))
    assert df.common_root() == df.cache_dir()


def test_data_urls_in_datasets_and_scenarios(tmp_path, isolated, sources, monkeypatch):
    """``data://NAME/...`` finds a data set wherever it is; a missing one names the fetch."""
    from semlink.data import DatasetError
    from semlink.links.scenario import ScenarioError, load_scenario, precheck_scenario

    scenario = tmp_path / "s.yaml"
    scenario.write_text("dataset: {path: data://coco-sample/val2017, captions: "
                        "data://coco-sample/annotations.json, max_images: 2}\n"
                        "codecs: [{name: jpeg, params: {quality: 50}}]\nchannels: [awgn]\nsnr_db: [10]\n")
    with pytest.raises(ScenarioError, match=r"dataset\.path: data set 'coco-sample' not found.*"
                                            r"semlink data fetch coco-sample"):
        precheck_scenario(scenario)
    with pytest.raises(DatasetError, match="semlink data fetch kodak24"):
        ImageDataset("data://kodak24/kodim0*.png")
    df.fetch("coco-sample", mirror=str(_mirror(tmp_path, "coco-sample", sources)))
    precheck_scenario(scenario)
    sc = load_scenario(scenario)
    assert sc.dataset["path"] == "data://coco-sample/val2017"      # as written, portable
    ds = ImageDataset(sc.dataset["path"], captions=sc.dataset["captions"], max_images=2)
    assert ds.names == ["000000000139.jpg", "000000000802.jpg"]
    assert all(len(it.captions) == 5 for it in ds)
    assert ds.identity()["annotations"]["captions"]["sha256"] == next(
        f.sha256 for f in df.source("coco-sample").files if f.path == "annotations.json")


def test_scenarios_and_doc_snippets_name_test_data_as_data_urls():
    """The scenario files (their settings; comments aside) and the docs' snippets name Kodak24
    and the COCO sample as ``data://NAME/...`` (found wherever they are), never as a path into
    the project's own ``../shared/data``, which a user's machine does not have."""
    root = Path(__file__).resolve().parents[1]
    lines = [(p, i, line.split("#", 1)[0]) for p in sorted((root / "scenarios").glob("*.yaml"))
             for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)]
    lines += [(p, i, line) for p in (root / "docs" / n for n in ("text.md", "codecs.md", "uoisc.md"))
              for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)]
    bad = [f"{p.relative_to(root)}:{i}: {line.strip()}" for p, i, line in lines
           if "shared/data/" in line]
    assert not bad, "use data://NAME/... instead:\n" + "\n".join(bad)
    assert any("data://kodak24" in line for _, _, line in lines)
    assert any("data://coco-sample" in line for _, _, line in lines)
