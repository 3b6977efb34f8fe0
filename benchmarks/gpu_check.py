"""GPU check: the paper's latent setting on one accelerator, within 8 minutes.

Everything with random weights (speed does not depend on them) and the real code paths:
``mrs.Trainer`` on the ``paper`` preset (256-px faces, ResShift's VQ-f4 face autoencoder
architecture written to a temporary ``.pth`` and loaded as the trainer loads the official file,
ResShift's ``UNetModelSwin`` at window 4 conditioned on the 256-px ``y`` and mask, loss MSE + 10
LPIPS(alex) with a random AlexNet of the same cost). Images: 8 synthetic faces rendered once and
cycled (``gpu_check_faces``), so that drawing the data costs what indexing a decoded dataset costs.

* **training**, in each precision (bf16 and fp32; fp16 in place of bf16 below compute capability
  8.0): ``train_step`` at batch 4: steps/s and images/s of the whole step (``step``: data, masks,
  encode, forward, loss, backward, AdamW, EMA) and of its device part on a fixed batch
  (``compute``), and the peak memory (``torch.cuda.max_memory_allocated``) from the first step on;
* **largest batch** in the device's default precision (``--precision auto``), right after its
  batch-4 numbers: doubling from 4 until out of memory (or ``--max-batch``), then bisection to
  within 1/8; steps/s, images/s and peak memory there;
* **sampling** at 256 px: ``--sample-batch`` images per call, each call = encode ``y``, 4 network
  evaluations, decode (each part under autocast, as in ``benchmarks/bench_latent.py``); images/s;
* **FLOP/s**: FLOPs of one training step counted by ``FlopCounterMode`` (forward and backward of
  every convolution, linear layer and attention: network, encoder, decoder, LPIPS; 2 per
  multiply-add) times steps/s, as a fraction of the device's datasheet dense peak in that precision
  (``PEAKS``; None for a device not in the table) and of a measured 8192^3 matmul in that dtype.

Sections run precision by precision (the largest batch right after the first precision) against a
time budget (``--budget-s``, default 420 s) and are skipped, with a note, when it is spent; a
section that fails on the device is recorded in ``errors`` and the others still run. ``--quick``:
seconds on a CPU (``tiny_latent`` sizes: 64-px images, a tiny VQ-f4 with random weights, the tiny
net; no memory numbers) to check that it runs.

Run:  benchmarks/gpu_check.sh [--quick] [--out PATH]      (results: benchmarks/results/gpu_<device>.json)
"""

from __future__ import annotations

import dataclasses
import gc
import re
import sys
import tempfile
import time
from pathlib import Path

import common
import torch

import mrs
from mrs.core.masks import to_latent
from mrs.nets import count_parameters, denoiser_of
from mrs.training import TrainConfig, Trainer
from mrs.training.losses import load_lpips
from mrs.training.precision import DTYPES, autocast, resolve_precision

# datasheet dense peaks (TFLOP/s, no sparsity): NVIDIA's product pages; fp32 = CUDA cores (torch's
# default float32 matmul precision "highest" does not use TF32)
PEAKS = {
    "H200": {"bf16": 989.4, "fp16": 989.4, "fp32": 66.9},
    "H100 SXM": {"bf16": 989.4, "fp16": 989.4, "fp32": 66.9},
    "H100 PCIe": {"bf16": 756.0, "fp16": 756.0, "fp32": 51.2},
    "A100": {"bf16": 312.0, "fp16": 312.0, "fp32": 19.5},
    "L40S": {"bf16": 362.1, "fp16": 362.1, "fp32": 91.6},
    "L4": {"bf16": 121.0, "fp16": 121.0, "fp32": 30.3},
    "T4": {"fp16": 65.0, "fp32": 8.1},
    "V100": {"fp16": 125.0, "fp32": 15.7},
}
# reserve_s: the part of the budget the largest-batch search leaves for the fp32 section after it
FULL = dict(preset="paper", image=256, batch=4, warmup=3, steps=10, sample_batch=16, sample_calls=3,
            matmul=8192, max_batch=1024, reserve_s=90.0)
QUICK = dict(preset="tiny_latent", image=64, batch=2, warmup=1, steps=1, sample_batch=2, sample_calls=1,
             matmul=256, max_batch=4, reserve_s=0.0)


def add_args(p):
    p.add_argument("--budget-s", type=float, default=420.0, help="time budget of all sections (s)")
    p.add_argument("--max-batch", type=int, help="largest batch tried (default 1024; --quick: 4)")
    p.add_argument("--sample-batch", type=int, help="images per sampling call (default 16; --quick: 2)")


@mrs.data.register_dataset("gpu_check_faces")
def _faces(size: int, seed: int, length: int, split: str):
    """8 synthetic faces rendered once, cycled over ``length`` items (training); validation: the
    fixed synthetic split."""
    if split == "val":
        return None
    pool = mrs.synthetic_faces(8, size, seed=seed)
    return [pool[i % 8] for i in range(min(length, 4096))]


# -- helpers ------------------------------------------------------------------------------------

def sync(dev) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def free(dev) -> None:
    gc.collect()
    if dev.type == "cuda":
        torch.cuda.empty_cache()


def peak_mib(dev):
    return torch.cuda.max_memory_allocated(dev) / common.MIB if dev.type == "cuda" else None


def device_info(dev) -> dict:
    if dev.type != "cuda":
        return {"name": "cpu", "capability": None, "memory_gib": None, "peak_key": None}
    name = torch.cuda.get_device_name(dev)
    cap = torch.cuda.get_device_capability(dev)
    total = torch.cuda.get_device_properties(dev).total_memory / 2**30
    key = next((k for k in PEAKS if all(w in name for w in k.split())), None)
    return {"name": name, "capability": list(cap), "memory_gib": round(total, 1), "peak_key": key,
            "cuda": torch.version.cuda}


def precisions(dev) -> list:
    """The 16-bit precision this device supports best, and fp32."""
    half = resolve_precision("auto", dev)
    return [half if half != "fp32" else "bf16", "fp32"]


def autoencoder_file(s: dict, tmp: Path) -> str:
    """A random-weight autoencoder of the preset's kind, written where the trainer can load it."""
    if s["preset"] == "paper":    # ResShift's VQ-f4 face architecture, as the official .pth
        from mrs.nets.autoencoder import build_resshift_vq, save_resshift_vq

        torch.manual_seed(0)
        save_resshift_vq(build_resshift_vq(), tmp / "vq_f4_random.pth")
        return str(tmp / "vq_f4_random.pth")
    from mrs.training.autoencoder import AutoencoderTrainConfig, train_autoencoder

    train_autoencoder(AutoencoderTrainConfig(image_size=16, steps=0, pool=2, val_size=2), tmp / "vq",
                      progress=False)
    return str(tmp / "vq")


def make_trainer(s: dict, ae: str, precision: str, dev, batch: int, tmp: Path) -> Trainer:
    cfg = TrainConfig.preset(s["preset"], process="emmd", autoencoder=ae, data="gpu_check_faces",
                             batch_size=batch, precision=precision, val_size=2, train_pool=64,
                             steps=10**6, warmup_steps=1000)
    return Trainer(cfg, tmp / "run", device=dev, progress=False,
                   lpips_model=load_lpips("alex", random_backbone=True))


def count_flops(fn) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def rates(flops: int, steps_per_s: float, precision: str, info: dict, matmul: dict) -> dict:
    achieved = flops * steps_per_s / 1e12
    peak = PEAKS.get(info["peak_key"], {}).get(precision) if info["peak_key"] else None
    mm = matmul.get(precision, {}).get("tflops")
    return {"flops_per_step": flops, "achieved_tflops": achieved, "peak_tflops": peak,
            "fraction_of_peak": achieved / peak if peak else None,
            "fraction_of_matmul": achieved / mm if mm else None}


# -- sections -----------------------------------------------------------------------------------

def matmul_rate(precision: str, n: int, dev) -> dict:
    g = torch.Generator().manual_seed(0)
    a, b = (torch.randn(n, n, generator=g).to(dev, DTYPES[precision]) for _ in range(2))
    t = common.autorange(lambda: torch.mm(a, b), 3)
    return {"n": n, "median_s": t["median_s"], "tflops": 2 * n**3 / t["median_s"] / 1e12}


def train_rate(tr: Trainer, s: dict, dev, steps: int | None = None, flops: bool = True) -> dict:
    """Whole steps, then the device part on a fixed batch; peak memory from the first step on."""
    steps = steps or s["steps"]
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    for k in range(s["warmup"]):
        tr.train_step(k)
    sync(dev)
    start = time.perf_counter()
    for k in range(steps):
        tr.train_step(s["warmup"] + k)
    sync(dev)
    step_s = (time.perf_counter() - start) / steps
    fixed = tr.batch(0)
    start = time.perf_counter()
    for k in range(steps):
        loss, _ = tr.loss(*tr.noisy(fixed), batch=fixed)
        tr.update(loss, k)
        tr.update_ema()
    sync(dev)
    compute_s = (time.perf_counter() - start) / steps
    b = tr.cfg.batch_size
    out = {"batch": b, "steps": steps, "step_s": step_s, "steps_per_s": 1 / step_s,
           "images_per_s": b / step_s, "compute_s": compute_s, "compute_images_per_s": b / compute_s,
           "peak_mib": peak_mib(dev)}
    if flops:
        out["flops_per_step"] = count_flops(lambda: tr.train_step(0))
    return out


@torch.inference_mode()
def sampling_rate(tr: Trainer, precision: str, s: dict, batch: int, dev) -> dict:
    """Images/s of inpainting at the preset's size: encode y, T network evaluations, decode."""
    ae, proc, net, cfg = tr.autoencoder, tr.proc, tr.ema.module, tr.cfg
    x0 = mrs.synthetic_faces(batch, s["image"], seed=1).to(dev)
    mask = mrs.masks.random_masks("box", batch, s["image"], torch.Generator().manual_seed(0)).to(dev)
    y = mrs.degrade(x0, mask, cfg.fill)
    mask_z = to_latent(mask, ae.factor, cfg.latent_mask)
    den = denoiser_of(net, proc, y, mask)

    def den_p(x_t, t, y_z, m_z):
        with autocast(precision, dev):
            return den(x_t, t, y_z, m_z).float()

    def call():
        with autocast(precision, dev):
            z_y = ae.encode(y).float()
        z = mrs.sample(proc, den_p, z_y, mask_z, generator=torch.Generator().manual_seed(0))
        with autocast(precision, dev):
            return ae.decode(z).float()

    out = call()
    sync(dev)
    start = time.perf_counter()
    for _ in range(s["sample_calls"]):
        out = call()
    sync(dev)
    per_call = (time.perf_counter() - start) / s["sample_calls"]
    return {"batch": batch, "calls": s["sample_calls"], "s_per_call": per_call,
            "images_per_s": batch / per_call, "nfe_per_image": proc.T,
            "finite": bool(torch.isfinite(out).all())}


def fits(tr: Trainer, batch: int, dev):
    """True when two training steps at ``batch`` run, else why not: out of memory, or another
    error of a too large batch (e.g. a kernel's 32-bit index limit of 2^31 elements)."""
    tr.cfg = dataclasses.replace(tr.cfg, batch_size=batch)
    try:
        for k in range(2):
            tr.train_step(k)
        sync(dev)
        return True
    except RuntimeError as err:   # torch.cuda.OutOfMemoryError is one
        tr.opt.zero_grad(set_to_none=True)
        return "out of memory" if isinstance(err, torch.cuda.OutOfMemoryError) else str(err)[:200]
    finally:
        free(dev)


def largest_batch(tr: Trainer, s: dict, cap: int, dev, deadline: float) -> dict:
    """Doubling from the preset's batch until a batch does not fit (or ``cap``), then bisection."""
    ok, bad, tried, b = None, None, [], s["batch"]
    while b <= cap and time.monotonic() < deadline:
        good = fits(tr, b, dev)
        tried.append([b, good])
        if good is not True:
            bad = b
            break
        ok, b = b, b * 2
    while ok and bad and bad - ok > max(1, ok // 8) and time.monotonic() < deadline:
        mid = (ok + bad) // 2
        good = fits(tr, mid, dev)
        tried.append([mid, good])
        ok, bad = (mid, bad) if good is True else (ok, mid)
    if ok is None:
        return {"tried": tried, "largest": None, "note": "not even the first batch fits"}
    note = (f"stopped at --max-batch {cap}" if bad is None and b > cap else
            "time budget spent" if bad is None else f"{bad} did not fit")
    for _ in range(3):   # after out-of-memory errors the allocator may be fragmented: step down
        tr.cfg = dataclasses.replace(tr.cfg, batch_size=ok)
        try:
            timed = train_rate(tr, s, dev, steps=max(2, s["steps"] // 2))
            return {"tried": tried, "largest": ok, "note": note, **timed}
        except RuntimeError as err:
            tr.opt.zero_grad(set_to_none=True)
            free(dev)
            tried.append([ok, f"failed when timed: {str(err)[:200]}"])
            ok = max(1, ok - max(1, ok // 8))
    return {"tried": tried, "largest": None, "note": "out of memory when timed"}


def measure_precision(s: dict, ae: str, p: str, dev, tmp: Path, data: dict, deadline: float,
                      search: bool) -> None:
    """Training at the preset's batch and sampling in precision ``p``; with ``search`` also the
    largest batch (same trainer), leaving ``RESERVE_S`` of the budget for what follows."""
    info = data["device_info"]
    common.progress(f"{s['preset']} in {p}: training at batch {s['batch']}, sampling")
    tr = make_trainer(s, ae, p, dev, s["batch"], tmp)
    data["parameters"] = count_parameters(tr.net)
    rate = train_rate(tr, s, dev)
    rate.update(rates(rate["flops_per_step"], rate["steps_per_s"], p, info, data["matmul"]))
    data["training"][p] = rate
    data["sampling"][p] = sampling_rate(tr, p, s, s["sample_batch"], dev)
    if search:
        if time.monotonic() < deadline - s["reserve_s"]:
            common.progress(f"largest batch in {p} (up to {s['max_batch']})")
            big = largest_batch(tr, s, s["max_batch"], dev, deadline - s["reserve_s"])
            if big.get("largest"):
                big.update(rates(big["flops_per_step"], big["steps_per_s"], p, info, data["matmul"]))
            data["largest_batch"] = {"precision": p, **big}
        else:
            data["skipped"].append("largest batch: time budget spent")
    del tr
    free(dev)


def measure(args) -> dict:
    dev, s = args.device, dict(QUICK if args.quick else FULL)
    s["sample_batch"] = args.sample_batch or s["sample_batch"]
    s["max_batch"] = args.max_batch or s["max_batch"]
    deadline = time.monotonic() + args.budget_s
    modes = precisions(dev)
    data = {"settings": s, "device_info": device_info(dev), "precisions": modes, "skipped": [],
            "matmul": {}, "training": {}, "sampling": {}, "largest_batch": None}
    for p in modes:
        data["matmul"][p] = matmul_rate(p, s["matmul"], dev)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ae = autoencoder_file(s, tmp)
        for k, p in enumerate(modes):
            if time.monotonic() > deadline:
                data["skipped"].append(f"training and sampling in {p}: time budget spent")
                continue
            try:
                measure_precision(s, ae, p, dev, tmp, data, deadline, search=k == 0)
            except Exception as err:   # noqa: BLE001 - keep the other sections' numbers
                if args.quick:
                    raise
                data.setdefault("errors", []).append(f"{p}: {type(err).__name__}: {str(err)[:500]}")
                free(dev)
    return data


def _row(label, r) -> list:
    return [label, r["batch"], r["steps_per_s"], r["images_per_s"], r["compute_images_per_s"], r["peak_mib"],
            r["flops_per_step"] / 1e12, r["achieved_tflops"], r["fraction_of_peak"], r["fraction_of_matmul"]]


def report(d: dict) -> None:
    info, s = d["device_info"], d["settings"]
    big = d.get("largest_batch") or {}
    rows = [_row(p, r) for p, r in d["training"].items()]
    if big.get("largest"):
        rows.append(_row(f"{big['precision']} (largest batch)", big))
    common.print_table(
        f"training: {s['preset']} preset, {s['image']} px, {d.get('parameters', 0) / 1e6:.1f}M-parameter net",
        ["precision", "batch", "steps/s", "images/s", "compute images/s", "peak MiB", "TFLOP/step",
         "TFLOP/s", "of peak", "of matmul"], rows,
        notes=["steps/s: the whole train_step; compute: its device part on a fixed batch",
               f"peak: datasheet dense TFLOP/s of {info['peak_key'] or 'this device (not in the table)'}; "
               "matmul: a measured square matmul in the same dtype",
               "largest batch: " + (f"{big['largest']} ({big['note']}); tried {big['tried']}"
                                    if big.get("largest") else str(big.get("note", "not measured")))])
    common.print_table(
        f"sampling: inpainting at {s['image']} px (encode, 4 network evaluations, decode)",
        ["precision", "batch", "s/call", "images/s", "finite"],
        [[p, r["batch"], r["s_per_call"], r["images_per_s"], r["finite"]] for p, r in d["sampling"].items()])
    common.print_table("matmul", ["precision", "n", "median s", "TFLOP/s"],
                       [[p, m["n"], m["median_s"], m["tflops"]] for p, m in d["matmul"].items()],
                       notes=[f"device: {info['name']}, capability {info['capability']}, "
                              f"{info['memory_gib']} GiB"] + [f"skipped: {x}" for x in d["skipped"]]
                       + [f"error: {x}" for x in d.get("errors", [])])


def default_out(argv) -> list:
    """``--out gpu_<device>[_quick].json`` unless given (or ``--report``)."""
    if any(a.split("=")[0] in ("--out", "--report", common.CHILD) for a in argv):
        return argv
    cpu = "--device" in argv and argv[argv.index("--device") + 1] == "cpu"
    name = "cpu" if cpu or not torch.cuda.is_available() else torch.cuda.get_device_name()
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    return argv + ["--out", f"gpu_{slug}{'_quick' if '--quick' in argv else ''}.json"]


if __name__ == "__main__":
    sys.argv = default_out(sys.argv)
    common.main(__file__, __doc__, add_args, measure, report)
