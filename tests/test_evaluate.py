"""Evaluation and inference: metric tables, grids, LPIPS honesty, the evaluate / inpaint / demo CLI."""

import os
import subprocess
import sys
from pathlib import Path

import matplotlib.figure
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from PIL import Image

import mrs
from mrs.evaluation import (
    EvalResult,
    PairedDifference,
    evaluate,
    paired_difference,
    paired_differences,
    paired_markdown,
    paste_back,
    plot_paired,
)
from mrs.pipelines import export_weights, find_checkpoints, load_pretrained, read_inpainting_inputs
from mrs.training import TrainConfig, Trainer, losses

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("irregular", "box", "outpaint")


def _cli(*args):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "mrs", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=300)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """A folder with two throwaway exported checkpoints (tiny nets, 2 training steps, 16x16)."""
    root = tmp_path_factory.mktemp("checkpoints")
    for name in ("emmd_smooth", "resshift"):
        cfg = TrainConfig.preset("tiny", process=name, image_size=16, steps=2, batch_size=2, val_size=2,
                                 lpips_weight=0, train_pool=8, val_every=2, ckpt_every=2)
        last = Trainer(cfg, root / f"run_{name}", progress=False).run()
        export_weights(last, root / "exported" / name)
    return root / "exported"


@pytest.fixture
def no_lpips(monkeypatch):
    """LPIPS weights unavailable, whatever this machine has."""
    monkeypatch.setattr(losses, "load_lpips", lambda *a, **k: None)


@pytest.fixture
def oracle_result(no_lpips):
    x0 = mrs.synthetic_faces(3, 16, seed=5)
    proc = mrs.make_process("emmd", mrs.Schedule.exponential(T=3))
    models = {"oracle": (mrs.oracle_denoiser(x0), proc), "leaky": (mrs.leaky_oracle(x0, proc, 0.3), proc)}
    return evaluate(models, images=x0, n=3), x0


def test_oracle_and_leaky_oracle(oracle_result):
    res, x0 = oracle_result
    assert isinstance(res, EvalResult) and res.labels == ("oracle", "leaky") and res.mask_kinds == KINDS
    assert torch.equal(res.x0, x0)
    rows = {(r["model"], r["mask"]): r for r in res.table}
    assert len(rows) == 6
    for kind in KINDS:
        oracle, leaky = rows[("oracle", kind)], rows[("leaky", kind)]
        assert oracle["psnr"] > 60 and oracle["hole_psnr"] > 60 and oracle["ssim"] > 0.999
        assert abs(oracle["seam"]) < 1e-4
        # emmd keeps the known pixels exactly: the error sits in the hole only
        assert 10 < leaky["hole_psnr"] < leaky["psnr"] < 60
        assert leaky["lpips"] is None and oracle["nfe"] == leaky["nfe"] == 3
        assert res.samples[("leaky", kind)].shape == x0.shape
        hole = res.masks[kind] > 0.5
        assert torch.equal(res.samples[("leaky", kind)] * ~hole, x0 * ~hole)


def test_markdown_csv_grids_and_files(oracle_result, tmp_path):
    res, _ = oracle_result
    md = res.to_markdown()
    assert md.startswith("| model | mask | PSNR | hole PSNR | SSIM | seam excess | NFE/img | ms/img |")
    assert "LPIPS: weights unavailable" in md and "| LPIPS" not in md
    assert "| leaky | box |" in md
    quiet = res.to_markdown(timings=False)
    assert "ms/img" not in quiet and quiet == evaluate_again(res)  # deterministic without timings
    fig = res.grid("box", 2)
    assert isinstance(fig, matplotlib.figure.Figure) and len(fig.axes) == 2 * (2 + 2)
    assert len(res.grid("outpaint", 99).axes) == 3 * 4  # at most the images there are
    assert len(res.comparison(2).axes) == 3 * 2 * 4
    plt.close("all")
    written = res.save(tmp_path)
    names = {"metrics.md", "metrics.csv", "comparison.png"} | {f"grid_{k}.png" for k in KINDS}
    assert set(written) == names and all((tmp_path / n).stat().st_size > 0 for n in names)
    lines = (tmp_path / "metrics.csv").read_text().splitlines()
    assert lines[0] == "model,mask,n,psnr,hole_psnr,ssim,seam,lpips,nfe,ms_per_image"
    assert len(lines) == 7 and lines[1].startswith("oracle,irregular,3,")
    with pytest.raises(ValueError, match="mask_kind"):
        res.grid("mixed")


def evaluate_again(res):
    x0 = res.x0
    proc = mrs.make_process("emmd", mrs.Schedule.exponential(T=3))
    models = {"oracle": (mrs.oracle_denoiser(x0), proc), "leaky": (mrs.leaky_oracle(x0, proc, 0.3), proc)}
    return evaluate(models, images=x0, n=3).to_markdown(timings=False)


@pytest.mark.parametrize("steps", [2, 5])
@pytest.mark.parametrize("batch_size", [None, 2])
def test_nfe_per_image_is_T(no_lpips, steps, batch_size):
    proc = mrs.make_process("resshift", mrs.Schedule.exponential(T=steps))
    res = evaluate({"copy y": (lambda x_t, t, y, mask: y, proc)}, n=3, size=16, mask_kinds=("box",),
                   batch_size=batch_size)
    assert res.nfe[("copy y", "box")] == steps and res.table[0]["nfe"] == steps


def test_checkpoints_by_path_and_by_net(no_lpips, checkpoints):
    path = checkpoints / "emmd_smooth.json"
    pipe = load_pretrained(path)
    res = evaluate({"path": str(path), "net": (pipe.net, pipe.process), "pipe": pipe}, n=2, size=16,
                   mask_kinds=("box", "mixed"))
    assert [r["nfe"] for r in res.table] == [4] * 6
    assert torch.equal(res.samples[("path", "box")], res.samples[("pipe", "box")])
    # the same noise for every model: the same net gives the same samples
    assert torch.equal(res.samples[("path", "box")], res.samples[("net", "box")])
    assert find_checkpoints(checkpoints) == [str(checkpoints / "resshift"), str(checkpoints / "emmd_smooth")]


class _FakeLPIPS(torch.nn.Module):
    """Stands in for lpips.LPIPS: the mean squared error, shape [B, 1, 1, 1]."""

    def forward(self, a, b, normalize=False):
        return ((a - b) ** 2).mean(dim=(1, 2, 3), keepdim=True)


def test_baselines_are_models_without_a_network(no_lpips):
    res = evaluate({"harmonic": mrs.baselines.Baseline("harmonic"), "telea": mrs.baselines.Baseline("telea")},
                   n=2, size=16, mask_kinds=("box",))
    assert res.nfe["harmonic", "box"] == 0 and res.nfe["telea", "box"] == 0
    x0, mask = res.x0, res.masks["box"]
    assert torch.equal(res.samples["harmonic", "box"], mrs.baselines.harmonic_fill(res.inputs["box"], mask))
    known = mask.expand_as(x0) == 0
    assert torch.equal(res.samples["telea", "box"][known], x0[known])
    with pytest.raises(ValueError, match="baseline"):
        evaluate({"x": 3}, n=2, size=16)


@pytest.mark.parametrize("random_backbone", [True, False])
def test_lpips_only_with_real_weights(monkeypatch, random_backbone):
    fake = losses.LPIPSMetric(_FakeLPIPS(), "alex", random_backbone)
    monkeypatch.setattr(losses, "load_lpips", lambda *a, **k: fake)
    proc = mrs.make_process("emmd", mrs.Schedule.exponential(T=2))
    res = evaluate({"copy y": (lambda x_t, t, y, mask: y, proc)}, n=2, size=16, mask_kinds=("box",))
    md = res.to_markdown()
    if random_backbone:  # numbers from random weights are never reported
        assert res.table[0]["lpips"] is None and "LPIPS: weights unavailable" in md
    else:
        x0, y = res.x0, res.inputs["box"]
        assert res.table[0]["lpips"] == pytest.approx(float(((x0 - y) ** 2).mean()), rel=1e-5)
        assert "| LPIPS |" in md and "weights unavailable" not in md


def test_bad_arguments(no_lpips):
    proc = mrs.make_process("emmd", mrs.Schedule.exponential(T=2))
    ok = {"a": (lambda x_t, t, y, mask: y, proc)}
    with pytest.raises(ValueError, match="models"):
        evaluate({})
    with pytest.raises(ValueError, match="models\\['a'\\]"):
        evaluate({"a": 3})
    with pytest.raises(ValueError, match="models\\['a'\\]"):
        evaluate({"a": (lambda *a: a[2], "emmd")})
    with pytest.raises(ValueError, match="mask_kinds"):
        evaluate(ok, mask_kinds=("circle",))
    with pytest.raises(ValueError, match="n must"):
        evaluate(ok, n=0)
    with pytest.raises(ValueError, match="images"):
        evaluate(ok, images=torch.zeros(2, 3, 16, 12))
    with pytest.raises(ValueError, match="no checkpoint"):
        evaluate({"a": "no_such_checkpoint"})


def _fake_result(values: dict, kinds=("box", "outpaint")):
    """An EvalResult whose per-image metrics are given: label -> {metric: [len(kinds) * N] values}."""
    labels = tuple(values)
    n = len(next(iter(values[labels[0]].values()))) // len(kinds)
    per_image = {(lb, k): {m: torch.tensor(v[j * n:(j + 1) * n], dtype=torch.float32)
                           for m, v in values[lb].items()}
                 for lb in labels for j, k in enumerate(kinds)}
    x0 = torch.zeros(n, 3, 8, 8)
    masks = {k: torch.zeros(n, 1, 8, 8) for k in kinds}
    return EvalResult(labels=labels, mask_kinds=kinds, x0=x0, masks=masks,
                      inputs={k: x0 for k in kinds}, samples={key: x0 for key in per_image},
                      per_image=per_image, nfe={key: 4 for key in per_image},
                      seconds={key: 0.0 for key in per_image}, lpips_note="weights unavailable", seed=0)


def test_paired_difference_by_hand():
    a = [20.0, 21.0, 25.0, 22.0, 23.0, 30.0]
    b = [19.0, 21.5, 24.0, 21.0, 22.5, 29.0]
    res = _fake_result({"a": {"psnr": a, "seam": [0.1] * 6}, "b": {"psnr": b, "seam": [0.1] * 6}})
    d = np.array(a) - np.array(b)
    diff = paired_difference(res, "psnr", "a", "b")
    assert isinstance(diff, PairedDifference) and diff.n == 6 and not diff.pasted
    assert diff.mean == pytest.approx(d.mean()) and diff.se == pytest.approx(d.std(ddof=1) / 6 ** 0.5)
    assert diff.resolved == (abs(d.mean()) > 2 * d.std(ddof=1) / 6 ** 0.5) and diff.resolved  # 0.58 ± 0.27
    assert diff.better == "a" and "resolved" in str(diff) and "not resolved" not in str(diff)
    swapped = paired_difference(res, "psnr", "b", "a")
    assert swapped.mean == pytest.approx(-diff.mean) and swapped.se == pytest.approx(diff.se)
    # the same values unpaired: each model's own SE is ~4x larger, the paired one sees through it
    assert diff.se < 0.25 * np.array(a).std(ddof=1) / 6 ** 0.5
    one_kind = paired_difference(res, "psnr", "a", "b", mask_kinds="outpaint")
    assert one_kind.n == 3 and one_kind.mean == pytest.approx(d[3:].mean())
    # a single outlier pair makes the same mean unresolved
    noisy = _fake_result({"a": {"psnr": a[:5] + [36.0]}, "b": {"psnr": b[:5] + [29.0 + 6.0 - 5.0]}})
    assert not paired_difference(noisy, "psnr", "a", "b").resolved
    same = paired_difference(res, "seam", "a", "b")
    assert same.mean == 0 and same.se == 0 and not same.resolved and same.better is None
    # lower is better for the seam
    lower = _fake_result({"a": {"seam": [0.1, 0.2, 0.1, 0.3]}, "b": {"seam": [0.2, 0.3, 0.2, 0.4]}})
    assert paired_difference(lower, "seam", "a", "b").better == "a"


def test_paired_difference_rejects_bad_input(oracle_result):
    res, _ = oracle_result
    with pytest.raises(ValueError, match="two different models"):
        paired_difference(res, "seam", "leaky", "leaky")
    with pytest.raises(ValueError, match="label must be one of"):
        paired_difference(res, "seam", "leaky", "nobody")
    with pytest.raises(ValueError, match="'lpips' was not measured"):
        paired_difference(res, "lpips", "leaky", "oracle")
    with pytest.raises(ValueError, match="mask_kinds"):
        paired_difference(res, "seam", "leaky", "oracle", mask_kinds=("circle",))
    with pytest.raises(ValueError, match="not finite"):  # the oracle's PSNR is inf
        paired_difference(res, "psnr", "leaky", "oracle")
    single = _fake_result({"a": {"psnr": [1.0, 2.0]}, "b": {"psnr": [1.0, 1.0]}})
    with pytest.raises(ValueError, match="at least 2"):
        paired_difference(single, "psnr", "a", "b", mask_kinds="box")
    with pytest.raises(ValueError, match="reference must be one of"):
        paired_differences(res, "nobody")


def test_paste_back_equals_evaluate_with_paste_known(no_lpips):
    x0 = mrs.synthetic_faces(3, 16, seed=2)
    proc = mrs.make_process("resshift", mrs.Schedule.exponential(T=3))  # noises the known pixels too
    models = {"leaky": (mrs.leaky_oracle(x0, proc, 0.3), proc), "copy y": (lambda x_t, t, y, mask: y, proc)}
    sampled = evaluate(models, images=x0, n=3, mask_kinds=("box", "irregular"))
    direct = evaluate(models, images=x0, n=3, mask_kinds=("box", "irregular"), paste_known=True)
    pasted = paste_back(sampled)
    assert not sampled.pasted and pasted.pasted and direct.pasted and paste_back(pasted) is pasted
    for key, per in direct.per_image.items():
        assert torch.equal(pasted.samples[key], direct.samples[key])
        assert per.keys() == pasted.per_image[key].keys()
        assert all(torch.allclose(per[m], pasted.per_image[key][m]) for m in per)
        known = (sampled.masks[key[1]] == 0).expand_as(x0)
        assert torch.equal(pasted.samples[key][known], x0[known])
        if key[0] == "leaky":  # its error reaches the known pixels: resshift noises them too
            assert not torch.equal(sampled.samples[key][known], x0[known])
    # pasting raises the whole-image PSNR of the leaky oracle; the hole is untouched
    assert paired_difference(pasted, "hole_psnr", "leaky", "copy y").mean == pytest.approx(
        paired_difference(sampled, "hole_psnr", "leaky", "copy y").mean)
    assert float(pasted.values("leaky", "psnr").mean()) > float(sampled.values("leaky", "psnr").mean())
    assert "known pixels pasted back" in pasted.to_markdown() and "as sampled" in sampled.to_markdown()
    with pytest.raises(ValueError, match="EvalResult"):
        paste_back({"not": "a result"})


def test_paired_markdown_and_plot(oracle_result):
    res, _ = oracle_result
    diffs = paired_differences(res, "oracle")
    assert [(d.a, d.b) for d in diffs] == [("leaky", "oracle")] * 2
    assert [d.metric for d in diffs] == ["ssim", "seam"]  # psnr: inf for the oracle, left out
    md = paired_markdown(res, "oracle", metrics=("ssim", "seam"))
    assert md.startswith("| model - oracle | SSIM | seam excess |") and "| leaky | **" in md
    assert "9 image/mask pairs (as sampled)" in md
    fig = plot_paired(diffs, title="leaky - oracle")
    lines = [c for c in fig.axes[0].collections]  # one error bar per difference
    assert isinstance(fig, matplotlib.figure.Figure) and len(lines) == 2
    seg = lines[0].get_segments()[0]  # the first bar: mean ± 2 SE
    assert seg[0][0] == pytest.approx(diffs[0].mean - 2 * diffs[0].se, rel=1e-6)
    assert seg[1][0] == pytest.approx(diffs[0].mean + 2 * diffs[0].se, rel=1e-6)
    plt.close("all")
    with pytest.raises(ValueError, match="PairedDifference"):
        plot_paired([])


def _picture(path, w, h, seed=0):
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path)
    return np.asarray(Image.open(path).convert("RGB"))


def _mask(path, w, h, box, rgb=False):
    m = np.zeros((h, w), np.uint8)
    top, left, bh, bw = box
    m[top:top + bh, left:left + bw] = 255
    Image.fromarray(np.stack([m] * 3, -1) if rgb else m).save(path)


@pytest.mark.parametrize("w,h", [(40, 24), (20, 36)])
def test_inpaint_image_keeps_size_and_known_pixels(checkpoints, tmp_path, w, h):
    orig = _picture(tmp_path / "img.png", w, h)
    _mask(tmp_path / "mask.png", w // 2, h // 2, (2, 3, 4, 5), rgb=True)  # half size: resized
    pipe = load_pretrained(checkpoints / "emmd_smooth")
    out = np.asarray(pipe.inpaint(tmp_path / "img.png", tmp_path / "mask.png"))
    _, hole = read_inpainting_inputs(tmp_path / "img.png", tmp_path / "mask.png")
    assert hole.shape == (h, w) and hole.any()
    assert out.shape == orig.shape
    assert np.array_equal(out[~hole], orig[~hole])
    assert not np.array_equal(out[hole], orig[hole])


def test_cli_evaluate_on_a_face_folder(checkpoints, tmp_path):
    faces = tmp_path / "faces"
    faces.mkdir()
    for i, img in enumerate(mrs.synthetic_faces(3, 24, seed=1)):
        arr = ((img.permute(1, 2, 0) + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()
        Image.fromarray(arr).save(faces / f"face_{i}.png")
    r = _cli("evaluate", "--checkpoint", "all", "--checkpoints", checkpoints, "--data", faces,
             "--out", tmp_path / "out", "--n", "2", "--mask-kinds", "box,outpaint", "--no-progress")
    assert r.returncode == 0, r.stderr
    assert r.stdout.index("| resshift | box |") < r.stdout.index("| emmd_smooth | outpaint |")
    for name in ("metrics.md", "metrics.csv", "grid_box.png", "grid_outpaint.png", "comparison.png"):
        assert (tmp_path / "out" / name).is_file(), name
        assert (tmp_path / "out" / "pasted" / name).is_file(), name
    # 2 checkpoints and the 2 default classical fills (harmonic, telea) x 2 kinds
    assert len((tmp_path / "out" / "metrics.csv").read_text().splitlines()) == 1 + 4 * 2
    # both protocols, each with the paired differences against the reference (resshift by default)
    # and against the first classical fill
    out = r.stdout
    assert out.index("## As sampled") < out.index("## Known pixels pasted back")
    assert out.count("| model - resshift |") == 2 and out.count("| model - harmonic |") == 2
    assert out.count("| emmd_smooth | ") == 2 * 2 + 2 * 2  # 2 kinds x 2 tables, 2 x 2 paired rows
    assert "(known pixels pasted back)" in out and "(as sampled)" in out
    assert (tmp_path / "out" / "report.md").read_text() in out
    r = _cli("evaluate", "--checkpoint", "all", "--checkpoints", checkpoints, "--data", faces, "--reference",
             "emmd_smooth", "--out", tmp_path / "out2", "--n", "2", "--mask-kinds", "box", "--no-progress",
             "--baselines", "")
    assert r.returncode == 0 and r.stdout.count("| model - emmd_smooth |") == 2, r.stderr
    assert "harmonic" not in r.stdout
    r = _cli("evaluate", "--checkpoint", "all", "--checkpoints", checkpoints, "--reference", "mvd",
             "--out", tmp_path / "x")
    assert r.returncode == 2 and "--reference mvd is not among" in r.stderr and "Traceback" not in r.stderr
    r = _cli("evaluate", "--checkpoint", checkpoints / "nothing.json", "--out", tmp_path / "x")
    assert r.returncode == 2 and "no checkpoint" in r.stderr and "Traceback" not in r.stderr


def test_cli_inpaint(checkpoints, tmp_path):
    orig = _picture(tmp_path / "img.png", 30, 18)
    _mask(tmp_path / "mask.png", 20, 20, (5, 5, 8, 8))  # another aspect ratio: stretched to the image
    _mask(tmp_path / "empty.png", 30, 18, (0, 0, 0, 0))
    (tmp_path / "text.png").write_text("not an image")
    ck = ["--checkpoint", checkpoints / "emmd_smooth.json"]
    r = _cli("inpaint", tmp_path / "img.png", tmp_path / "mask.png", *ck, "-o", tmp_path / "o" / "out.png")
    assert r.returncode == 0, r.stderr
    out = np.asarray(Image.open(tmp_path / "o" / "out.png").convert("RGB"))
    hole = np.asarray(Image.open(tmp_path / "mask.png").convert("L").resize((30, 18), Image.BILINEAR)) > 127.5
    assert out.shape == orig.shape and np.array_equal(out[~hole], orig[~hole])
    bad = [(("missing.png", "mask.png"), "not found"), (("text.png", "mask.png"), "cannot read"),
           (("img.png", "text.png"), "cannot read the mask"), (("img.png", "empty.png"), "mask has no hole")]
    for (image, mask), message in bad:
        r = _cli("inpaint", tmp_path / image, tmp_path / mask, *ck, "-o", tmp_path / "bad.png")
        assert r.returncode == 2 and message in r.stderr, (image, mask, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1
    r = _cli("inpaint", tmp_path / "img.png", tmp_path / "mask.png", *ck, "--process", "emmd",
             "-o", tmp_path / "bad.png")
    assert r.returncode == 2 and "trained with process 'emmd_smooth'" in r.stderr
    assert not (tmp_path / "bad.png").exists()


def test_cli_demo(checkpoints, tmp_path):
    r = _cli("demo", "--out", tmp_path / "demo", "--n", "2", "--checkpoints", checkpoints)
    assert r.returncode == 0, r.stderr
    assert "| resshift | irregular |" in r.stdout and "| emmd_smooth | outpaint |" in r.stdout
    assert "## Known pixels pasted back" in r.stdout and "| model - resshift |" in r.stdout
    for name in ("comparison.png", "metrics.md", "metrics.csv", "grid_irregular.png", "report.md",
                 "pasted/metrics.md"):
        assert (tmp_path / "demo" / name).is_file(), name
    (tmp_path / "empty").mkdir()
    r = _cli("demo", "--out", tmp_path / "demo2", "--checkpoints", tmp_path / "empty")
    assert r.returncode == 2 and "no exported checkpoints" in r.stderr


def test_cli_help_lists_the_commands(capsys):
    from mrs.__main__ import main

    for command, flags in [("evaluate", ["--checkpoint", "--data", "--out", "--n", "--size", "--mask-kinds",
                                         "--seed", "--reference", "--device"]),
                           ("inpaint", ["--process", "--checkpoint", "--out", "--seed"]),
                           ("demo", ["--out", "--n", "--checkpoints"])]:
        with pytest.raises(SystemExit) as exit_info:
            main([command, "--help"])
        assert exit_info.value.code == 0
        text = capsys.readouterr().out
        assert all(f in text for f in flags), command
