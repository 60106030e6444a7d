"""VQA-format loader and the animal zero-shot split (semlink/vqa.py) on the shared COCO sample."""

import csv
import json
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from conftest import shared_data_dir
from semlink.data import DatasetError, ImageDataset
from semlink.vqa import VQADataset, animal_categories, load_vqa, open_dataset, question_mentions

ROOT = Path(__file__).resolve().parent.parent


def _coco() -> Path:
    """The COCO sample ($SEMLINK_DATA, ../shared/data or the cache; fails naming the fetch)."""
    return shared_data_dir("coco-sample")


def _instances() -> str:
    return str(_coco() / "coco_format" / "instances_val2017_subset.json")


VQA_DIR = ROOT / "tests" / "data" / "coco_sample_vqa"
QUESTIONS, ANSWERS = str(VQA_DIR / "questions.json"), str(VQA_DIR / "annotations.json")
ANIMAL_IMAGES = {"000000022192.jpg", "000000022892.jpg", "000000126107.jpg", "000000174231.jpg"}


@pytest.fixture(scope="module")
def coco_images():
    return ImageDataset(str(_coco() / "val2017"), resize=[16, 16], crop="center")


def test_committed_question_file_is_the_generators_output():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from make_coco_sample_vqa import make
    finally:
        sys.path.pop(0)
    questions, annotations = make(json.loads(Path(_instances()).read_text()))
    assert json.loads(Path(QUESTIONS).read_text()) == questions
    assert json.loads(Path(ANSWERS).read_text()) == annotations


def test_animal_categories_come_from_the_instances_file():
    assert animal_categories(_instances()) == ["bear", "bird", "cat", "cow", "dog", "elephant",
                                            "giraffe", "horse", "sheep", "zebra"]


@pytest.mark.parametrize("split,rule,kept_q,kept_img", [
    ("all", "either", 256, 30),
    ("exclude_animals", "objects", 224, 26), ("animals", "objects", 32, 4),
    ("exclude_animals", "question", 240, 30), ("animals", "question", 16, 10),
    ("exclude_animals", "either", 218, 26), ("animals", "either", 38, 10)])
def test_split_counts_on_the_coco_sample(coco_images, split, rule, kept_q, kept_img):
    ds = VQADataset(coco_images, QUESTIONS, ANSWERS, _instances(), split=split, rule=rule)
    c = ds.counts
    assert (c.records, c.images, c.kept_records, c.kept_images) == (256, 30, kept_q, kept_img)
    assert len(ds) == kept_q and f"kept {kept_q} questions on {kept_img} images" in c.line()


def test_training_split_never_shows_an_animal_and_zero_shot_split_only_animals(coco_images):
    train = VQADataset(coco_images, QUESTIONS, ANSWERS, _instances(), split="exclude_animals", per="image")
    names = set(train.names)
    assert not names & ANIMAL_IMAGES and len(names) == 26
    for item in train.batches(8):
        for it in item:
            assert not any(question_mentions(q, animal_categories(_instances())) for q in it.queries)
    test = VQADataset(coco_images, QUESTIONS, ANSWERS, _instances(), split="animals", rule="objects",
                      per="image")
    assert set(test.names) == ANIMAL_IMAGES


def test_items_carry_their_question_answers_and_image(coco_images):
    ds = VQADataset(coco_images, QUESTIONS, ANSWERS, _instances(), split="animals", rule="objects")
    item = ds[0]
    file, qid = item.name.split("#")
    assert file == "000000022192.jpg" and item.question_ids == [qid]
    raw = {q["question_id"]: q for q in json.loads(Path(QUESTIONS).read_text())["questions"]}
    assert item.queries == [raw[int(qid)]["question"]]
    assert torch.equal(item.image, coco_images[coco_images.names.index(file)].image)
    by_q = dict(zip(item.queries, item.answers, strict=True))
    assert by_q.get("How many dogs are there?", ["1"]) == ["1"]
    counts = {q: a for it in ds.batches(64) for q, a in zip(it[0].queries, it[0].answers, strict=True)}
    assert all(len(a) == 1 for a in counts.values())


def test_question_rule_matches_whole_words_and_plurals():
    names = ["cat", "dog", "sheep", "horse"]
    assert question_mentions("How many dogs are there?", names)
    assert question_mentions("Is the CAT asleep?", names)
    assert question_mentions("What animals are in the field?", names)
    assert question_mentions("How many sheep?", names) and question_mentions("Two horses?", names)
    assert not question_mentions("What category is this?", names)   # 'cat' inside a word
    assert not question_mentions("Is there a hotdog?", names)


def test_plain_json_and_csv_formats(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for n in ("a.png", "b.png"):
        Image.new("RGB", (8, 8), (10, 20, 30)).save(folder / n)
    (tmp_path / "q.json").write_text(json.dumps([
        {"image": "imgs/a.png", "question": "Is there a dog?", "answers": ["no", "no"]},
        {"file_name": "b.png", "question": "What colour?", "answer": "blue"}]))
    with open(tmp_path / "q.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["image", "question", "answers"])
        w.writerow(["a.png", "What colour?", "blue|dark blue"])
        w.writerow(["c.png", "Not in the folder?", ""])
    recs = load_vqa(str(tmp_path / "q.json"))
    assert [(r.image, r.question, r.answers) for r in recs] == [
        ("a.png", "Is there a dog?", ["no", "no"]), ("b.png", "What colour?", ["blue"])]
    ds = open_dataset({"path": str(folder), "vqa": {"questions": str(tmp_path / "q.csv")}})
    assert len(ds) == 1 and ds[0].answers == [["blue", "dark blue"]] and ds.counts.unmatched == 1
    # without an instances file only split 'all' works, with a clear message otherwise
    with pytest.raises(DatasetError, match=r"dataset.vqa.instances: split 'exclude_animals' needs"):
        open_dataset({"path": str(folder), "vqa": {"questions": str(tmp_path / "q.json"),
                                                   "split": "exclude_animals"}})
    with pytest.raises(DatasetError, match=r"dataset.queries: the queries come from dataset.vqa"):
        open_dataset({"path": str(folder), "queries": str(tmp_path / "q.json"),
                      "vqa": {"questions": str(tmp_path / "q.json")}})
    (tmp_path / "bad.json").write_text(json.dumps({"x": 1}))
    with pytest.raises(DatasetError, match="not a recognised VQA format"):
        load_vqa(str(tmp_path / "bad.json"))


def test_vqa_v2_matches_coco_2014_file_names_by_image_id(tmp_path):
    folder = tmp_path / "val2014"
    folder.mkdir()
    Image.new("RGB", (8, 8)).save(folder / "COCO_val2014_000000000139.jpg")
    (tmp_path / "q.json").write_text(json.dumps({"questions": [
        {"image_id": 139, "question": "What is on the table?", "question_id": 139000},
        {"image_id": 5, "question": "Missing image?", "question_id": 5000}]}))
    (tmp_path / "a.json").write_text(json.dumps({"annotations": [
        {"question_id": 139000, "answers": [{"answer": "vase"}, {"answer": "flowers"}]}]}))
    ds = open_dataset({"path": str(folder), "vqa": {"questions": str(tmp_path / "q.json"),
                                                    "annotations": str(tmp_path / "a.json")}})
    assert ds.names == ["COCO_val2014_000000000139.jpg#139000"]
    assert ds[0].answers == [["vase", "flowers"]]


def test_scenario_dataset_block_feeds_vqa_questions_to_the_sweep(tmp_path):
    from semlink.links.results import load_results
    from semlink.links.runner import run_sweep
    from semlink.links.scenario import ScenarioError, parse_scenario

    raw = {"dataset": {"path": str(_coco() / "val2017"), "resize": [16, 16], "crop": "center",
                       "vqa": {"questions": QUESTIONS, "annotations": ANSWERS, "instances": _instances(),
                               "split": "animals", "rule": "objects", "per": "image"}},
           "codecs": [{"name": "raw_pixels", "params": {"downsample": 4}}],
           "channels": ["awgn"], "snr_db": [30]}
    scenario = parse_scenario(raw)
    out = run_sweep(scenario, str(tmp_path / "run"), progress=False)
    _, points = load_results(out.results)
    assert sorted(points[0]["images"]) == sorted(ANIMAL_IMAGES)
    bad = {**raw, "dataset": {**raw["dataset"], "vqa": {"questions": QUESTIONS, "split": "cats"}}}
    with pytest.raises(ScenarioError, match=r"dataset.vqa.split: expected one of"):
        parse_scenario(bad)


def test_vqa_files_may_be_named_by_data_urls(coco_images):
    """``dataset.vqa`` files take ``data://NAME/...`` like ``dataset.path`` and ``captions``: the
    same split as with the plain path, and the resolved file recorded."""
    url = "data://coco-sample/coco_format/instances_val2017_subset.json"
    by_url = VQADataset(coco_images, QUESTIONS, ANSWERS, url, split="animals", rule="objects")
    plain = VQADataset(coco_images, QUESTIONS, ANSWERS, _instances(), split="animals", rule="objects")
    assert by_url.names == plain.names and len(by_url) == 32
    assert Path(by_url.config["instances"]).resolve() == Path(_instances()).resolve()
