"""Real photographs: folders (recursive, skipped files counted), Hugging Face datasets (short names,
hub ids, saved to disk), the recorded train/validation split, and training on them offline.

The photographs are scikit-image's bundled samples (no download)."""

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

import mrs
from mrs.data import sources
from mrs.data.sources import FolderImages, SplitImages, make_split, resolve_source, write_split
from mrs.training import TrainConfig, Trainer

skdata = pytest.importorskip("skimage.data")
ROOT = Path(__file__).resolve().parent.parent
USABLE = ["astronaut.png", "camera.png", "ihc.png", "logo.png", "sub/chelsea.jpg", "sub/coffee.webp",
          "sub/deeper/rocket.jpg", "sub/deeper/truncated.png"]


def _photos(root: Path) -> Path:
    """Real photographs in a nested folder, plus a text file, a corrupt png (bad header) and a
    truncated png (good header, broken data: only decoding finds it)."""
    from PIL import Image

    (root / "sub" / "deeper").mkdir(parents=True)
    Image.fromarray(skdata.astronaut()).save(root / "astronaut.png")
    Image.fromarray(skdata.camera()).save(root / "camera.png")                 # greyscale
    Image.fromarray(skdata.immunohistochemistry()).save(root / "ihc.png")
    Image.fromarray(skdata.logo()).save(root / "logo.png")                     # RGBA
    Image.fromarray(skdata.chelsea()).save(root / "sub" / "chelsea.jpg", quality=90)
    Image.fromarray(skdata.coffee()).save(root / "sub" / "coffee.webp")
    Image.fromarray(skdata.rocket()).save(root / "sub" / "deeper" / "rocket.jpg", quality=90)
    full = root / "sub" / "deeper" / "full.png"
    Image.fromarray(skdata.chelsea()).save(full)
    (root / "sub" / "deeper" / "truncated.png").write_bytes(full.read_bytes()[:2000])
    full.unlink()
    (root / "notes.txt").write_text("not an image")
    (root / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    return root


@pytest.fixture
def photos(tmp_path):
    return _photos(tmp_path / "photos")


def small(**kw):
    base = dict(image_size=16, batch_size=2, steps=4, warmup_steps=1, val_every=2, ckpt_every=2,
                val_size=2, lpips_weight=0.0, train_pool=8)
    return TrainConfig.preset("tiny", **{**base, **kw})


def test_folder_is_scanned_recursively_and_skips_are_counted(photos):
    with pytest.warns(UserWarning, match="1 unreadable image file.*corrupt.png"):
        src = FolderImages(photos)
    assert src.keys == USABLE
    assert src.skipped == {"not_image": ["notes.txt"], "unreadable": ["corrupt.png"]}
    with pytest.raises(ValueError, match="not found"):
        FolderImages(photos / "nope")
    (photos.parent / "empty").mkdir()
    with pytest.raises(ValueError, match="no readable images"):
        FolderImages(photos.parent / "empty")


def test_images_are_centre_cropped_and_resized(photos):
    from PIL import Image

    src = FolderImages(photos, keys=USABLE)
    ds = SplitImages(src, ["sub/coffee.webp", "camera.png", "logo.png"], 24)
    coffee = ds[0]
    assert coffee.shape == (3, 24, 24) and -1 <= float(coffee.min()) and float(coffee.max()) <= 1
    # 600x400 -> the central 400x400 square, then 24x24
    ref = Image.open(photos / "sub" / "coffee.webp").convert("RGB").crop((100, 0, 500, 400))
    ref = torch.from_numpy(__import__("numpy").asarray(ref.resize((24, 24), Image.BICUBIC), dtype="float32"))
    assert torch.allclose(coffee, ref.permute(2, 0, 1) / 127.5 - 1, atol=1e-5)
    grey, rgba = ds[1], ds[2]
    assert torch.equal(grey[0], grey[1]) and rgba.shape == (3, 24, 24)
    # a tensor of another size (an object dataset) is cropped and resized the same way
    t = sources.to_tensor(torch.zeros(3, 40, 30).uniform_(-1, 1), 16)
    assert t.shape == (3, 16, 16)
    with pytest.raises(ValueError, match="cannot read"):
        sources.to_tensor(3.0, 16)


def test_resolve_source_names():
    celeba = resolve_source("celeba_hq_256")
    assert celeba["kind"] == "hub" and celeba["repo"] == "korexyz/celeba-hq-256x256"
    assert celeba["splits"] == ("train", "validation")
    ffhq = resolve_source("ffhq_256")
    assert (ffhq["repo"], ffhq["splits"]) == ("merkol/ffhq-256", ("train",))
    assert resolve_source("hf:someone/faces")["repo"] == "someone/faces"
    assert resolve_source("someone/faces") == {"kind": "hub", "repo": "someone/faces", "splits": None,
                                               "name": "someone/faces"}
    for bad in ("no_such_thing", "", "<list>"):
        with pytest.raises(ValueError):
            resolve_source(bad)
    with pytest.raises(ValueError, match="short name"):
        mrs.data.register_dataset("ffhq_256")(lambda *a: None)


def test_short_names_download_from_the_hub(monkeypatch):
    """The download code, without the network: load_dataset is asked for each hub split, and the
    splits are concatenated in order."""
    datasets = pytest.importorskip("datasets")
    from PIL import Image

    calls = []

    def fake_load_dataset(repo, split=None, **kw):
        calls.append((repo, split))
        n = {"train": 3, "validation": 2}[split]
        imgs = [Image.new("RGB", (20, 20), (40 * i, 0, 0)) for i in range(n)]
        return datasets.Dataset.from_dict({"image": imgs, "label": [0] * n},
                                          features=datasets.Features({"image": datasets.Image(),
                                                                      "label": datasets.Value("int64")}))

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    src = sources.open_source("celeba_hq_256")
    assert calls == [("korexyz/celeba-hq-256x256", "train"), ("korexyz/celeba-hq-256x256", "validation")]
    assert src.keys == [0, 1, 2, 3, 4] and src.column == "image"
    assert sources.to_tensor(src.read(3), 8).shape == (3, 8, 8)

    def offline(repo, split=None, **kw):
        raise ConnectionError("no network")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(ValueError, match="cannot load the dataset 'ffhq_256'"):
        sources.open_source("ffhq_256")


def test_make_split_is_disjoint_complete_and_deterministic():
    keys = [f"img{i:03d}.png" for i in range(50)]
    a = make_split(keys, 7)
    b = make_split(list(reversed(keys)), 7)                      # listing order does not matter
    assert a == b and len(a["val"]) == 7 and a["train"] == sorted(a["train"])
    assert not set(a["train"]) & set(a["val"]) and sorted(a["train"] + a["val"]) == keys
    assert make_split(keys, 7, seed=1) != a
    assert a["val"] != keys[:7]                                  # not simply the first files
    for bad in (0, 50, 2.0, True):
        with pytest.raises(ValueError, match="n_val"):
            make_split(keys, bad)
    with pytest.raises(ValueError, match="distinct"):
        make_split(["a", "a", "b"], 1)


def test_folder_trains_from_the_cli_with_a_recorded_disjoint_split(photos, tmp_path):
    out = tmp_path / "run"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    args = ["--data", str(photos), "--out", str(out), "--steps", "4", "--image-size", "16",
            "--batch-size", "2", "--val-size", "3", "--val-every", "2", "--ckpt-every", "2",
            "--lpips-weight", "0", "--no-progress", "--sample-every", "2"]
    r = subprocess.run([sys.executable, "-m", "mrs", "train", *args], capture_output=True, text=True,
                       cwd=ROOT, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "precision fp32" in r.stdout
    split = json.loads((out / "split.json").read_text())
    assert len(split["val"]) == 3 and not set(split["train"]) & set(split["val"])
    assert sorted(split["train"] + split["val"]) == USABLE                # every usable image
    assert split["skipped"] == {"not_image": ["notes.txt"], "unreadable": ["corrupt.png"]}
    assert split == {**make_split(USABLE, 3), "source": str(photos), "kind": "folder", "seed": 0,
                     "skipped": split["skipped"]}                         # deterministic
    meta = json.loads(sorted(out.glob("ckpt_*.json"))[-1].read_text())
    assert meta["data"]["train"] == 5 and meta["data"]["val"] == 3 and meta["precision"] == "fp32"
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["step_0000002.png", "step_0000004.png"]
    log = (out / "train.log").read_text()
    assert "precision fp32" in log and "checkpoint ckpt_0000004.json (end)" in log


def test_validation_never_reads_a_training_image(photos, tmp_path, monkeypatch):
    reads = []
    original = FolderImages.read
    monkeypatch.setattr(FolderImages, "read", lambda self, key: reads.append(key) or original(self, key))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tr = Trainer(small(data=str(photos), val_size=3, batch_size=3), tmp_path / "run", progress=False)
        split = tr.split
        assert reads and set(reads) <= set(split["val"])           # building the validation split
        reads.clear()
        tr.validate()
        assert reads == []                                         # validation reuses those tensors
        for step in range(4):                                      # more than one epoch of training
            tr.train_step(step)
        assert set(reads) == set(split["train"])                   # every training image, nothing else
    assert not set(split["val"]) & set(split["train"])


def test_a_corrupt_image_is_skipped_not_a_crash(photos, tmp_path):
    cfg = small(data=str(photos), val_size=2, batch_size=3, steps=4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tr = Trainer(cfg, tmp_path / "run", progress=False)
        assert "sub/deeper/truncated.png" in tr.split["train"]
        last = tr.run()
    assert any("skipping unreadable image 'sub/deeper/truncated.png'" in str(w.message) for w in caught)
    assert tr.images.bad == ["sub/deeper/truncated.png"]
    meta = json.loads(last.read_text())
    assert meta["step"] == 4 and meta["data"]["skipped"] == {"not_image": 1, "unreadable": 1,
                                                             "unreadable_in_run": 1}


def test_resume_keeps_the_recorded_split(photos, tmp_path):
    from PIL import Image

    out = tmp_path / "run"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Trainer(small(data=str(photos), steps=2), out, progress=False).run()
        before = json.loads((out / "split.json").read_text())
        Image.fromarray(skdata.astronaut()).save(photos / "new.png")     # the folder grows
        resumed = Trainer.resume(out, steps=4, progress=False)
        resumed.run()
    assert json.loads((out / "split.json").read_text()) == before
    assert resumed.split["train"] == before["train"] and "new.png" not in resumed.split["train"]
    other = _photos(tmp_path / "other")
    with pytest.raises(ValueError, match="made for data"):
        Trainer(small(data=str(other)), out, progress=False)
    with pytest.raises(ValueError, match="keeps its \\['data'\\]"):
        Trainer.resume(out, changes={"data": str(other)})


def test_a_saved_datasets_dataset_trains_offline(tmp_path):
    datasets = pytest.importorskip("datasets")
    from PIL import Image

    imgs = [Image.fromarray(a) for a in (skdata.astronaut(), skdata.chelsea(), skdata.coffee(),
                                         skdata.rocket(), skdata.immunohistochemistry())]
    features = datasets.Features({"image": datasets.Image(), "label": datasets.Value("int64")})
    ds = datasets.Dataset.from_dict({"image": imgs, "label": list(range(5))}, features=features)
    single, both = tmp_path / "single", tmp_path / "both"
    ds.save_to_disk(str(single))
    parts = datasets.DatasetDict({"train": ds.select([0, 1, 2]), "validation": ds.select([3, 4])})
    parts.save_to_disk(str(both))
    assert resolve_source(str(single))["kind"] == resolve_source(str(both))["kind"] == "saved"
    tr = Trainer(small(data=str(both), steps=2), tmp_path / "run", progress=False)
    tr.run()
    split = json.loads((tmp_path / "run" / "split.json").read_text())
    assert split["kind"] == "hf" and sorted(split["train"] + split["val"]) == [0, 1, 2, 3, 4]
    assert len(split["val"]) == 2 and not set(split["train"]) & set(split["val"])
    assert torch.equal(tr.images[0], sources.to_tensor(imgs[split["train"][0]], 16))
    assert mrs.data.make_dataset(str(single), 16, split="val", val_count=2)[1].shape == (3, 16, 16)


def test_a_python_dataset_object_trains_and_resumes(tmp_path):
    faces = [f for f in mrs.synthetic_faces(6, 24, seed=5)]           # 24 px, resized to 16
    tr = Trainer(small(steps=2), tmp_path / "run", progress=False, dataset=faces)
    tr.run()
    assert tr.cfg.data == "<list>" and len(tr.split["train"]) == 4
    with pytest.raises(ValueError, match="dataset="):
        Trainer.resume(tmp_path / "run")
    again = Trainer.resume(tmp_path / "run", steps=3, progress=False, dataset=faces)
    assert again.step == 2 and again.split["val"] == tr.split["val"]
    again.run()
    assert again.step == 3


# -- a long run on a machine that may disconnect: time-based checkpoints, sample grids, resume ----

def test_time_based_checkpoints_and_sample_grids(photos, tmp_path, monkeypatch):
    from PIL import Image

    from mrs.training import monitor

    now = [0.0]
    monkeypatch.setattr(monitor.time, "monotonic", lambda: now[0])

    def step_and_tick(tr, step, original=Trainer.train_step):
        now[0] += 25.0                                         # every step takes 25 s of wall time
        return original(tr, step)

    monkeypatch.setattr(Trainer, "train_step", step_and_tick)
    cfg = small(data=str(photos), steps=7, ckpt_every=100, val_every=100, ckpt_minutes=1.0, sample_every=3,
                val_size=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tr = Trainer(cfg, tmp_path / "run", progress=False)
        tr.run(until=6)                                        # "disconnected" after step 6
    log = (tmp_path / "run" / "train.log").read_text()
    assert "checkpoint ckpt_0000003.json (every 1 min)" in log  # 75 s > 60 s after steps 1-3
    assert "checkpoint ckpt_0000006.json" in log               # the next 75 s; and the stop at 6
    grids = sorted((tmp_path / "run" / "samples").iterdir())
    assert [p.name for p in grids] == ["step_0000003.png", "step_0000006.png"]
    w, h = Image.open(grids[0]).size                           # 3 images a row; rows y, sample, truth
    assert (w, h) == (2 + 3 * 18, 2 + 3 * 18)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = Trainer.resume(tmp_path / "run", progress=False)   # one command after a disconnect
        assert again.step == 6
        again.run()
    assert again.step == 7 and (tmp_path / "run" / "ckpt_0000007.json").exists()
    assert "resume at step 6 of 7" in (tmp_path / "run" / "train.log").read_text()


def test_evaluate_reads_only_the_held_out_images_of_a_split(photos, tmp_path):
    from mrs.data.sources import held_out_images

    split = {**make_split(USABLE, 3), "source": str(photos), "kind": "folder", "seed": 0}
    write_split(tmp_path / "split.json", split)
    val = held_out_images(None, 16, tmp_path)                       # a run folder holding split.json
    assert val.keys == split["val"] and len(val) == 3 and val[0].shape == (3, 16, 16)
    assert len(held_out_images(str(photos), 16)) == len(USABLE)     # no split: every usable image
    with pytest.raises(ValueError, match="was made for data"):
        held_out_images(str(tmp_path / "other"), 16, tmp_path / "split.json")
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    r = subprocess.run([sys.executable, "-m", "mrs", "evaluate", "--checkpoint", "pixel32/emmd", "--split",
                        str(tmp_path), "--out", str(tmp_path / "eval"), "--size", "32", "--mask-kinds", "box",
                        "--baselines", "harmonic", "--no-progress"], capture_output=True, text=True, cwd=ROOT,
                       env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "evaluating on all 3 images" in r.stdout
    assert "3 images of 32x32" in (tmp_path / "eval" / "report.md").read_text()
