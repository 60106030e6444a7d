import csv
import json

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import shared_data_dir
from semlink.data import DatasetError, DatasetItem, ImageDataset


def _rgb(w, h, seed=0):
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), "RGB")


def _write(folder, names, w=8, h=6):
    for i, n in enumerate(names):
        _rgb(w, h, seed=i).save(folder / n)


def test_folder_sorted_and_filters_non_images(tmp_path):
    _write(tmp_path, ["b.png", "a.JPG", "c.bmp"])
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "sub").mkdir()
    _write(tmp_path / "sub", ["z.png"])
    ds = ImageDataset(str(tmp_path))
    assert ds.names == ["a.JPG", "b.png", "c.bmp"]
    item = ds[0]
    assert isinstance(item, DatasetItem)
    assert item.image.dtype == torch.float32 and item.image.shape == (3, 6, 8)
    assert 0.0 <= item.image.min() and item.image.max() <= 1.0
    assert item.captions == [] and item.queries == [] and item.original_size == (6, 8)
    # bit-exact against PIL for a lossless file
    ref = torch.from_numpy(np.array(Image.open(tmp_path / "b.png"))).permute(2, 0, 1).float() / 255
    assert torch.equal(ds[1].image, ref)
    d = ds.describe()
    assert json.loads(json.dumps(d)) == d and d["num_images"] == 3 and d["names"] == ds.names


def test_glob_sorted_and_max_images(tmp_path):
    _write(tmp_path, ["img3.png", "img1.png", "img2.png", "other.png"])
    ds = ImageDataset(str(tmp_path / "img*.png"))
    assert ds.names == ["img1.png", "img2.png", "img3.png"]
    assert ImageDataset(str(tmp_path / "img*.png"), max_images=2).names == ["img1.png", "img2.png"]


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"path": "/nonexistent/semlink-data"}, "dataset.path"),
        ({"max_images": 0}, "dataset.max_images"),
        ({"max_images": -3}, "dataset.max_images"),
        ({"resize": 0}, "dataset.resize"),
        ({"resize": [10]}, "dataset.resize"),
        ({"resize": [10, -1]}, "dataset.resize"),
        ({"resize": "big"}, "dataset.resize"),
        ({"crop": "random"}, "dataset.crop"),
        ({"multiple_of": 0}, "dataset.multiple_of"),
    ],
)
def test_config_errors_name_key(tmp_path, kwargs, needle):
    _write(tmp_path, ["a.png"])
    kwargs = {"path": str(tmp_path), **kwargs}
    with pytest.raises(DatasetError, match=needle):
        ImageDataset(**kwargs)


def test_missing_folder_message_and_custom_key():
    with pytest.raises(DatasetError) as e:
        ImageDataset("/nonexistent/semlink-data", key="scenario.dataset")
    msg = str(e.value)
    assert "scenario.dataset.path" in msg and "/nonexistent/semlink-data" in msg and "does not exist" in msg
    assert isinstance(e.value, ValueError)


def test_empty_folder_and_empty_glob(tmp_path):
    (tmp_path / "readme.txt").write_text("no images")
    with pytest.raises(DatasetError, match=r"dataset\.path.*empty.*\.png") as e:
        ImageDataset(str(tmp_path))
    assert ".webp" in str(e.value)
    with pytest.raises(DatasetError, match=r"dataset\.path.*matches no image"):
        ImageDataset(str(tmp_path / "*.png"))


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_image_is_reported(tmp_path, fmt):
    _write(tmp_path, ["ok.png"])
    bad = tmp_path / f"bad.{fmt.lower()}"
    _rgb(128, 96, seed=3).save(bad, fmt)
    data = bad.read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError) as e:
        ImageDataset(str(tmp_path))
    msg = str(e.value)
    assert str(bad) in msg and "fix or remove" in msg


def test_not_an_image(tmp_path):
    (tmp_path / "fake.png").write_bytes(b"this is not a png")
    with pytest.raises(DatasetError, match="fake.png"):
        ImageDataset(str(tmp_path))


def test_grayscale_and_1bit(tmp_path):
    arr = np.arange(48, dtype=np.uint8).reshape(6, 8) * 5
    Image.fromarray(arr, "L").save(tmp_path / "g.png")
    Image.fromarray(arr > 100).convert("1").save(tmp_path / "h.png")
    ds = ImageDataset(str(tmp_path))
    g = ds[0].image
    assert g.shape == (3, 6, 8)
    assert torch.equal(g[0], g[1]) and torch.equal(g[0], g[2])
    assert torch.allclose(g[0], torch.from_numpy(arr).float() / 255)
    assert set(ds[1].image.unique().tolist()) == {0.0, 1.0}


def test_16bit_scaled_not_truncated(tmp_path):
    arr = np.array([[65535, 32768], [0, 257]], dtype=np.uint16)
    img = Image.fromarray(arr)
    assert img.mode == "I;16"
    img.save(tmp_path / "a.png")
    img.save(tmp_path / "b.tif")
    Image.fromarray(arr.astype(np.int32)).convert("I").save(tmp_path / "c.tif")
    for item in ImageDataset(str(tmp_path)):
        x = item.image
        assert x.shape == (3, 2, 2), item.name
        assert x[0, 0, 0].item() == pytest.approx(1.0), item.name
        assert x[0, 0, 1].item() == pytest.approx(32768 / 65535, abs=1e-6), item.name
        assert x[1, 1, 1].item() == pytest.approx(257 / 65535, abs=1e-6), item.name  # not 1/255 or 0


def test_rgba_alpha_discarded_colour_kept(tmp_path):
    arr = np.zeros((4, 4, 4), dtype=np.uint8)
    arr[..., 0], arr[..., 1], arr[..., 2] = 200, 100, 50
    arr[..., 3] = 0  # fully transparent: colour must still be kept, not composited
    Image.fromarray(arr, "RGBA").save(tmp_path / "a.png")
    Image.fromarray(arr[..., [0, 3]], "LA").save(tmp_path / "b.png")
    ds = ImageDataset(str(tmp_path))
    assert torch.allclose(ds[0].image[:, 0, 0], torch.tensor([200, 100, 50]) / 255)
    assert torch.allclose(ds[1].image[:, 0, 0], torch.full((3,), 200 / 255))


def test_palette(tmp_path):
    p = Image.new("P", (5, 3))
    p.putpalette([0, 0, 0, 255, 0, 0, 0, 0, 255] + [0] * 759)
    p.putpixel((1, 1), 1)
    p.putpixel((2, 1), 2)
    p.save(tmp_path / "p.png")
    p.save(tmp_path / "t.png", transparency=1)
    for item in ImageDataset(str(tmp_path)):
        x = item.image
        assert x.shape == (3, 3, 5)
        assert x[:, 1, 1].tolist() == [1.0, 0.0, 0.0] and x[:, 1, 2].tolist() == [0.0, 0.0, 1.0]


def test_cmyk_jpeg_and_exif_orientation(tmp_path):
    Image.new("CMYK", (6, 4), (0, 255, 255, 0)).save(tmp_path / "a.jpg")
    img = _rgb(6, 4)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees for display
    img.save(tmp_path / "b.png", exif=exif)
    ds = ImageDataset(str(tmp_path))
    red = ds[0].image.mean(dim=(1, 2))
    assert red[0] > 0.8 and red[1] < 0.2 and red[2] < 0.2
    assert ds[1].image.shape == (3, 6, 4) and ds[1].original_size == (6, 4)


def _odd(tmp_path):
    # W=333, H=501; smooth gradient so resized values stay meaningful
    yy, xx = np.mgrid[0:501, 0:333]
    arr = np.stack([xx / 332 * 255, yy / 500 * 255, np.full_like(xx, 128)], -1).astype(np.uint8)
    Image.fromarray(arr, "RGB").save(tmp_path / "odd.png")
    return str(tmp_path)


def test_odd_size_policies(tmp_path):
    root = _odd(tmp_path)
    plain = ImageDataset(root)[0]
    assert plain.image.shape == (3, 501, 333) and plain.original_size == (501, 333)

    rc = ImageDataset(root, resize=256, crop="center", multiple_of=16)[0]
    h, w = rc.image.shape[1:]
    assert h % 16 == 0 and w % 16 == 0 and w == 256 and h == 384
    assert rc.original_size == (501, 333)
    assert 0.0 <= rc.image.min() and rc.image.max() <= 1.0

    r = ImageDataset(root, resize=200)[0]
    assert r.image.shape == (3, round(501 * 200 / 333), 200)

    exact = ImageDataset(root, resize=[100, 150])[0]
    assert exact.image.shape == (3, 100, 150)
    cover = ImageDataset(root, resize=[96, 160], crop="center", multiple_of=16)[0]
    assert cover.image.shape == (3, 96, 160)
    # cover+crop keeps the aspect: the horizontal gradient spans the full width
    # while the vertical one only spans a central band
    assert cover.image[0, 48, 0] < 0.05 and cover.image[0, 48, -1] > 0.95
    assert cover.image[1, 0, 80] > 0.25 and cover.image[1, -1, 80] < 0.75


def test_pad_replicate_with_crop_none(tmp_path):
    root = _odd(tmp_path)
    plain = ImageDataset(root)[0].image
    padded = ImageDataset(root, multiple_of=16)[0]
    x = padded.image
    assert x.shape == (3, 512, 336) and padded.original_size == (501, 333)
    assert torch.equal(x[:, :501, :333], plain)
    assert torch.equal(x[:, 501:, :333], plain[:, -1:, :].expand(3, 11, 333))
    assert torch.equal(x[:, :501, 333:], plain[:, :, -1:].expand(3, 501, 3))


def test_center_crop_list_must_be_multiple(tmp_path):
    _write(tmp_path, ["a.png"])
    with pytest.raises(DatasetError, match=r"dataset\.resize.*multiple_of"):
        ImageDataset(str(tmp_path), resize=[100, 150], crop="center", multiple_of=16)


def test_getitem_returns_copy(tmp_path):
    _write(tmp_path, ["a.png"])
    ds = ImageDataset(str(tmp_path))
    ds[0].image.zero_()
    assert ds[0].image.sum() > 0
    assert ds[-1].name == "a.png"
    with pytest.raises(IndexError):
        ds[1]


def test_captions_coco_json(tmp_path):
    _write(tmp_path, ["x.png", "y.png"])
    coco = {
        "images": [
            {"id": 1, "file_name": "sub/x.png"},
            {"id": 2, "file_name": "y.png"},
            {"id": 3, "file_name": "z.png"},
        ],
        "annotations": [
            {"image_id": 1, "caption": "first"},
            {"image_id": 3, "caption": "unused"},
            {"image_id": 1, "caption": "second"},
        ],
    }
    cap = tmp_path / "caps.json"
    cap.write_text(json.dumps(coco))
    ds = ImageDataset(str(tmp_path / "*.png"), captions=str(cap))
    assert ds[0].captions == ["first", "second"] and ds[1].captions == []


def test_captions_plain_json_and_csv(tmp_path):
    _write(tmp_path, ["x.png", "y.png"])
    plain = tmp_path / "caps.json"
    plain.write_text(json.dumps({"x.png": ["a cat", "a small cat"], "y.png": "a dog"}))
    ds = ImageDataset(str(tmp_path), captions=str(plain))
    assert ds[0].captions == ["a cat", "a small cat"] and ds[1].captions == ["a dog"]

    c = tmp_path / "caps.csv"
    with open(c, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file_name", "caption"])
        w.writerows([["y.png", "a dog, sitting"], ["y.png", "brown dog"]])
    q = tmp_path / "q.csv"
    q.write_text("file_name,query\nx.png,What animal is this?\n")
    ds = ImageDataset(str(tmp_path), captions=str(c), queries=str(q))
    assert ds[0].captions == [] and ds[1].captions == ["a dog, sitting", "brown dog"]
    assert ds[0].queries == ["What animal is this?"] and ds[1].queries == []


def test_annotation_errors(tmp_path):
    _write(tmp_path, ["x.png"])
    with pytest.raises(DatasetError, match=r"dataset\.captions"):
        ImageDataset(str(tmp_path), captions=str(tmp_path / "missing.json"))
    bad_csv = tmp_path / "b.csv"
    bad_csv.write_text("name,text\nx.png,hi\n")
    with pytest.raises(DatasetError, match=r"dataset\.queries.*file_name,query"):
        ImageDataset(str(tmp_path), queries=str(bad_csv))
    bad_json = tmp_path / "b.json"
    bad_json.write_text(json.dumps({"x.png": [1, 2]}))
    with pytest.raises(DatasetError, match=r"dataset\.captions.*not a recognised format"):
        ImageDataset(str(tmp_path), captions=str(bad_json))


def test_batches(tmp_path):
    _write(tmp_path, [f"i{k}.png" for k in range(7)])
    ds = ImageDataset(str(tmp_path))
    batches = list(ds.batches(3))
    assert [len(b) for b in batches] == [3, 3, 1]
    assert [it.name for b in batches for it in b] == ds.names
    with pytest.raises(ValueError):
        list(ds.batches(0))


def test_real_coco_captions_and_queries():
    COCO = shared_data_dir("coco-sample")
    ds = ImageDataset(
        f"{COCO}/val2017",
        captions=f"{COCO}/coco_format/captions_val2017_subset.json",
        queries=f"{COCO}/coco_format/instances_val2017_subset.json",
    )
    assert len(ds) == 30 and ds.names == sorted(ds.names)
    item = ds[ds.names.index("000000022192.jpg")]
    assert "Where is the dog?" in item.queries
    assert item.queries == sorted(item.queries) and len(set(item.queries)) == len(item.queries)
    assert len(item.captions) == 5
    assert item.image.shape == (3, 426, 640)
    assert all(len(it.captions) == 5 for it in ds)
    # the shared annotations.json layout gives the same texts
    alt = ImageDataset(f"{COCO}/val2017/00000002219*.jpg", captions=f"{COCO}/annotations.json",
                       queries=f"{COCO}/annotations.json")
    a = alt[alt.names.index("000000022192.jpg")]
    assert sorted(a.captions) == sorted(item.captions) and a.queries == item.queries


def test_real_kodak_glob():
    KODAK = shared_data_dir("kodak24")
    ds = ImageDataset(f"{KODAK}/kodim0*.png", resize=256, crop="center", multiple_of=64)
    assert ds.names == [f"kodim0{i}.png" for i in range(1, 10)]
    for it in ds:
        assert it.original_size in ((512, 768), (768, 512))
        assert it.image.shape[1] % 64 == 0 and it.image.shape[2] % 64 == 0
        assert min(it.image.shape[1:]) == 256
    assert ds[3].original_size == (768, 512)  # kodim04 is portrait


def test_shapes_and_caption_counts_copy_no_image(tmp_path, monkeypatch):
    """What the checks before a sweep read (sizes, caption counts) comes from the cache:
    no item is built, so no image tensor is copied."""
    _write(tmp_path, ["a.png", "b.png"], w=10, h=6)
    _rgb(5, 9, seed=3).save(tmp_path / "c.png")
    (tmp_path / "caps.json").write_text(json.dumps({"a.png": ["x", "y"], "c.png": ["z"]}))
    ds = ImageDataset(str(tmp_path), captions=str(tmp_path / "caps.json"), resize=[4, 6])
    want_shapes = [tuple(ds[i].image.shape[-2:]) for i in range(len(ds))]
    want_counts = [len(ds[i].captions) for i in range(len(ds))]
    monkeypatch.setattr(ImageDataset, "__getitem__", lambda self, i: pytest.fail("copied an item"))
    assert ds.shapes == want_shapes == [(4, 6)] * 3
    assert ds.caption_counts == want_counts == [2, 0, 1]
    plain = ImageDataset(str(tmp_path))
    assert plain.shapes == [(6, 10), (6, 10), (9, 5)] and plain.caption_counts == [0, 0, 0]
