"""Latent inpainting at 256 px: end-to-end time per image, where it goes, ResShift's own classes beside ours.

The paper's setting, with random weights (speed does not depend on them) in the official
configurations: ResShift's VQ-f4 face autoencoder (``mrs.nets.autoencoder.build_resshift_vq()``:
256x256 images <-> 64x64x3 latents) and its Swin-UNet (``ResShiftUNetConfig.preset("official")``,
window 8), batch 1, under ``torch.inference_mode()``:

* **end to end**: ``InpaintPipeline(net, resshift process, autoencoder=vq, fill=-1,
  latent_mask="max").inpaint(x0, mask, seed)`` on a 256-px validation face: encode ``y``, 4 network
  evaluations, decode, paste the known pixels back; in float32 and in bfloat16: each part (encode,
  every network evaluation, decode) under ``torch.autocast(bfloat16)`` with its output cast to
  float32, so the process, the sampler and the paste-back stay float32 (the code lookup stays
  float32 inside our autoencoder; ``pipe.inpaint`` as a whole under autocast stops at the
  sampler's dtype check of the float32 latent mask against the bfloat16 latents). The split of
  every call is timed inside the same call (the autoencoder's ``encode`` and ``decode`` and each
  network evaluation on their own clock; ``other`` is the rest: mask to latent size, sampler
  arithmetic, paste-back);
* **ResShift's own classes** (``--official PATH``, a checkout of zsyOAOA/ResShift, imported from
  there at run time and never copied here): the same end-to-end call with ResShift's
  ``UNetModelSwin`` and ``VQModelTorch`` in place of ours (same weights, same process and sampler),
  interleaved with ours in the same loop, so the split also puts the two autoencoders side by side;
* **network forward** side by side: ours and ``UNetModelSwin`` at ``t = T`` on 1x3x64x64 latents
  with a 256-px ``y`` and mask, float32 and bfloat16 autocast, interleaved with a 2048x2048 matmul
  in float32 and bfloat16 (the machine's rate, under the same load as the forwards);
* **FLOP floor**: FLOPs of one forward, one encode and one decode (``FlopCounterMode``, 2 per
  multiply-add; convolutions, linear layers and attention), divided by the matmul rate: the time
  a pass would take if all of it ran at the rate of a large matmul.

Variants compared by a ratio run side by side (``common.interleaved``: one call of each per
round, after warm-up calls); tables show medians, ratios are medians of the per-round ratios.
Official code needs ``einops`` for its autoencoder; ``timm`` (three helpers of its Swin file) is
stubbed when absent and ``xformers`` is treated as absent.

Run:  OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_latent.py [--quick] [--official PATH]
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import math
import statistics
import sys
import tempfile
import types
from pathlib import Path

import common
import torch
from torch import nn

import mrs
from mrs.data import validation_split
from mrs.nets import ResShiftUNet, ResShiftUNetConfig, count_parameters
from mrs.nets.autoencoder import build_resshift_vq, save_resshift_vq
from mrs.nets.fast import forward_flops
from mrs.pipelines import InpaintPipeline

PARTS = ("encode", "network", "decode")
FULL = {"unet": "official", "vq": {}, "image": 256}
QUICK = {"unet": "tiny", "vq": dict(ch=32, ch_mult=(1, 1, 2), num_res_blocks=1, n_embed=64), "image": 64}
MATMUL_N = 2048


def add_args(p):
    p.add_argument("--official", metavar="PATH",
                   help="a checkout of zsyOAOA/ResShift: its classes beside ours")
    p.add_argument("--dtypes", type=common.listof(str, ("fp32", "bf16")), default="fp32,bf16")
    p.add_argument("--repeats", type=int, help="timed end-to-end rounds (default 3; --quick: 1)")
    p.add_argument("--forward-repeats", type=int, help="timed forward rounds (default 5; --quick: 1)")
    p.add_argument("--warmup", type=int, default=1, help="untimed rounds first (default 1)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed")


# -- ResShift's own classes, from a checkout ---------------------------------------------------

def import_official(path) -> dict:
    """``UNetModelSwin`` and ``VQModelTorch`` imported from the checkout at ``path`` (or the reason
    one could not be), and the stand-ins used for what the checkout imports but does not need."""
    root = Path(path).expanduser().resolve()
    if not (root / "models" / "unet.py").is_file():
        raise SystemExit(f"--official {path}: no models/unet.py there; give a checkout of zsyOAOA/ResShift")
    stubs = []
    if importlib.util.find_spec("timm") is None:      # the Swin file imports three helpers from it
        layers = types.ModuleType("timm.models.layers")
        layers.DropPath = nn.Identity                  # built only for drop_path > 0 (0 here)
        layers.to_2tuple = lambda x: tuple(x) if isinstance(x, (tuple, list)) else (x, x)
        layers.trunc_normal_ = nn.init.trunc_normal_
        sys.modules.update({"timm": types.ModuleType("timm"), "timm.models": types.ModuleType("timm.models"),
                            "timm.models.layers": layers})
        stubs.append("timm.models.layers: DropPath, to_2tuple, trunc_normal_ stand-ins")
    if importlib.util.find_spec("xformers") is None:
        sys.modules.setdefault("xformers", None)       # `import xformers` fails: plain attention
        stubs.append("xformers: absent")
    sys.path.insert(0, str(root))
    out = {"path": str(root), "stubs": stubs, "unet": None, "vq": None, "vq_error": None}
    with contextlib.redirect_stdout(sys.stderr):       # the checkout prints on import
        unet = importlib.import_module("models.unet")
        try:
            out["vq"] = importlib.import_module("ldm.models.autoencoder").VQModelTorch
        except ImportError as e:
            out["vq_error"] = f"{type(e).__name__}: {e} (ResShift's autoencoder needs einops)"
    if not Path(unet.__file__).resolve().is_relative_to(root):
        raise SystemExit(f"models.unet was imported from {unet.__file__}, not from {root}")
    out["unet"] = unet.UNetModelSwin
    return out


def official_vq(cls, vq_kwargs: dict, image: int, ours) -> nn.Module:
    """``VQModelTorch`` of the same config as ``build_resshift_vq(**vq_kwargs)``, holding ``ours``'s
    weights (written in the official format by ``save_resshift_vq``)."""
    kw = {"ch": 128, "ch_mult": (1, 2, 4), "num_res_blocks": 2, "embed_dim": 3, "n_embed": 8192,
          "z_channels": 3, **vq_kwargs}
    dd = dict(double_z=False, z_channels=kw["z_channels"], resolution=image, in_channels=3, out_ch=3,
              ch=kw["ch"], ch_mult=list(kw["ch_mult"]), num_res_blocks=kw["num_res_blocks"],
              attn_resolutions=[], dropout=0.0, padding_mode="zeros")
    with contextlib.redirect_stdout(sys.stderr):       # its Decoder prints the latent shape
        model = cls(dd, n_embed=kw["n_embed"], embed_dim=kw["embed_dim"]).eval()
    with tempfile.TemporaryDirectory() as tmp:
        save_resshift_vq(ours, Path(tmp) / "vq.pth")
        model.load_state_dict(torch.load(Path(tmp) / "vq.pth", weights_only=True), strict=True)
    return model.requires_grad_(False)


def official_unet(cls, net: ResShiftUNet) -> nn.Module:
    """``UNetModelSwin`` of ``net``'s config, holding ``net``'s weights (the official key names)."""
    torch.manual_seed(0)
    model = cls(**net.cfg.official_kwargs()).eval()
    model.load_state_dict(net.state_dict(), strict=True)
    return model.requires_grad_(False)


def official_call(model, schedule):
    """``net(x_t, t, y, mask)`` in mrs's convention for ``UNetModelSwin`` (as ``ResShiftUNet``
    documents: ``x_t / sqrt(kappa^2 eta_t + 1)``, ``t - 1``, ``mask -> 2 mask - 1``)."""
    std = (schedule.kappa ** 2 * schedule.etas + 1).sqrt().float()

    def call(x_t, t, y, mask):
        s = std.to(x_t.device)[t].view(-1, 1, 1, 1)
        return model(x_t / s, t - 1, lq=y, mask=2 * mask - 1)
    return call


# -- building ----------------------------------------------------------------------------------

def perturb(module: nn.Module, seed: int) -> nn.Module:
    """Seeded random weights everywhere (the inits zero every residual branch's last layer, which
    would make the ours-vs-official agreement check trivial): matrices and kernels get
    ``N(0, 1/fan_in)`` added, vectors ``N(0, 0.1^2)``."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            scale = 1 / math.sqrt(p[0].numel()) if p.dim() > 1 else 0.1
            p.add_(scale * torch.randn(p.shape, generator=g).to(p))
    return module


def build(config: dict, device):
    """Our network (random weights, ``ScheduleSpec()``'s schedule, as the official weights use) and
    autoencoder, and the resshift process."""
    schedule = mrs.ScheduleSpec().build()
    torch.manual_seed(0)
    net = perturb(ResShiftUNet(ResShiftUNetConfig.preset(config["unet"], schedule)), 1).to(device).eval()
    net.requires_grad_(False)
    vq = perturb(build_resshift_vq(**config["vq"]), 2).to(device)
    return net, vq, mrs.make_process("resshift", schedule)


# -- end to end, with the split ----------------------------------------------------------------

class Split:
    """Clock of each part (``PARTS``) inside one end-to-end call, and its network evaluations.
    Each part runs under bfloat16 autocast when ``bf16`` is set and returns float32, so the
    pipeline's own arithmetic (process, sampler, masks, paste-back) stays float32."""

    def __init__(self, device):
        self.device, self.bf16 = device, False
        self.reset()

    def reset(self):
        self.t, self.nfe = dict.fromkeys(PARTS, 0.0), 0

    def timed(self, part: str, fn):
        def run(*args):
            start = common.clock()
            with autocast(self.device, self.bf16):
                out = fn(*args)
            out = out.float()
            self.t[part] += common.clock() - start
            self.nfe += part == "network"
            return out
        return run


class TimedAutoencoder:
    """What ``InpaintPipeline`` needs of an autoencoder (``encode``, ``decode``, ``factor``),
    each call on ``split``'s clock."""

    def __init__(self, encode, decode, factor: int, split: Split):
        self.encode, self.decode = split.timed("encode", encode), split.timed("decode", decode)
        self.factor = factor

    def to(self, device):
        return self


class TimedNet(nn.Module):
    """A network conditioned on the image-resolution ``y`` and mask (``conditions_on_image``),
    every evaluation ``call(x_t, t, y_image, mask_image)`` on ``split``'s clock."""

    conditions_on_image = True

    def __init__(self, module: nn.Module, call, split: Split):
        super().__init__()
        self.module, self.call, self.split = module, call, split

    def denoiser(self, proc, y_image, mask_image):
        call = self.split.timed("network", self.call)
        return lambda x_t, t, y, mask: call(x_t, t, y_image.to(x_t.dtype), mask_image.to(x_t.dtype))


def autocast(device, on: bool):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=on)


def end_to_end_fn(pipe, split: Split, x0, mask, seed: int, bf16: bool):
    """A closure: one ``pipe.inpaint``; ``.parts`` collects the split of every call."""
    parts = {p: [] for p in (*PARTS, "all", "nfe")}

    def run():
        split.reset()
        split.bf16 = bf16
        start = common.clock()
        with torch.inference_mode():
            run.out = pipe.inpaint(x0, mask, seed=seed)
        parts["all"].append(common.clock() - start)
        for p in PARTS:
            parts[p].append(split.t[p])
        parts["nfe"].append(split.nfe)
    run.parts = parts
    return run


def end_to_end(args, net, vq, proc, off) -> dict:
    size, dev = args.config["image"], args.device
    x0, mask, _ = (z.to(dev) for z in validation_split(1, size))
    systems = {"ours": (net, lambda x_t, t, y, m: net(x_t, t, y, m), vq.encode, vq.decode)}
    if off.get("unet_model") is not None and off.get("vq_model") is not None:
        om, ov = off["unet_model"], off["vq_model"]
        systems["official"] = (om, official_call(om, proc.schedule), ov.encode, ov.decode)
    fns, outs = {}, {}
    for name, (module, call, enc, dec) in systems.items():
        split = Split(dev)
        pipe = InpaintPipeline(TimedNet(module, call, split), proc, image_size=size, fill=-1.0,
                               latent_mask="max", autoencoder=TimedAutoencoder(enc, dec, vq.factor, split))
        for dt in args.dtypes:
            fns[f"{name} {dt}"] = end_to_end_fn(pipe, split, x0, mask, args.seed, dt == "bf16")
    common.progress(f"end to end {size} px: {', '.join(fns)} x ({args.warmup} + {args.repeats})")
    totals = common.interleaved(fns, args.repeats, args.warmup)
    res = {}
    for name, fn in fns.items():
        keep = {p: v[-args.repeats:] for p, v in fn.parts.items()}
        other = [a - sum(keep[p][i] for p in PARTS) for i, a in enumerate(keep["all"])]
        res[name] = {"total": common.summary(totals[name]), "nfe": keep["nfe"],
                     "finite": bool(torch.isfinite(fn.out).all()),
                     **{p: common.summary(keep[p]) for p in PARTS}, "other": common.summary(other)}
        outs[name] = fn.out.float()
    if "official fp32" in outs:
        diff = (outs["ours fp32"] - outs["official fp32"]).abs().max()
        res["max_abs_diff_ours_vs_official_fp32"] = float(diff)
    return res


# -- forward side by side, FLOPs ---------------------------------------------------------------

def forward_inputs(net, size: int, device):
    """``x_t`` (a latent at ``t = T``), ``t``, ``y`` (hole -1) and ``mask`` of the validation face."""
    _, mask, y = validation_split(1, size)
    y = torch.where(mask > 0, -1.0, y)
    h = size // net.cfg.factor
    x = torch.randn(1, net.cfg.in_channels, h, h, generator=torch.Generator().manual_seed(0))
    t = torch.full((1,), net.cfg.T, dtype=torch.long)
    return tuple(z.to(device) for z in (x, t, y, mask))


def matmul_fn(dtype, device):
    g = torch.Generator().manual_seed(0)
    a, b = (torch.randn(MATMUL_N, MATMUL_N, generator=g).to(device, dtype) for _ in range(2))
    out = torch.empty(MATMUL_N, MATMUL_N, device=device, dtype=dtype)
    return lambda: torch.mm(a, b, out=out)


def forward_side_by_side(args, net, proc, off) -> dict:
    x, t, y, mask = forward_inputs(net, args.config["image"], args.device)
    calls = {"ours": lambda: net(x, t, y, mask)}
    if off.get("unet_model") is not None:
        official = official_call(off["unet_model"], proc.schedule)
        calls["official"] = lambda: official(x, t, y, mask)
    fns, outs = {}, {}
    for name, call in calls.items():
        for dt in args.dtypes:
            def run(call=call, bf16=dt == "bf16", key=f"{name} {dt}"):
                with torch.inference_mode(), autocast(args.device, bf16):
                    outs[key] = call()
            fns[f"{name} {dt}"] = run
    for dt in ("fp32", "bf16"):
        fns[f"matmul {dt}"] = matmul_fn(torch.float32 if dt == "fp32" else torch.bfloat16, args.device)
    common.progress(f"forward 1x{x.shape[1]}x{x.shape[2]}x{x.shape[3]}: {', '.join(fns)} "
                    f"x ({args.warmup} + {args.forward_repeats})")
    times = common.interleaved(fns, args.forward_repeats, args.warmup)
    res = {k: common.summary(v) for k, v in times.items()}
    for dt in ("fp32", "bf16"):
        res[f"matmul {dt}"]["gflops"] = 2 * MATMUL_N ** 3 / res[f"matmul {dt}"]["median_s"] / 1e9
    for dt in args.dtypes:
        if f"official {dt}" in times:
            res[f"official {dt}"]["per_round_ratio_to_ours"] = [
                o / u for o, u in zip(times[f"official {dt}"], times[f"ours {dt}"])]
            res[f"official {dt}"]["max_abs_diff_to_ours"] = float(
                (outs[f"official {dt}"].float() - outs[f"ours {dt}"].float()).abs().max())
    res["input"] = [list(x.shape), int(t[0]), list(y.shape)]
    return res


def count_flops(fn) -> dict:
    """FLOPs of ``fn()`` by kind (``FlopCounterMode``; the kinds of ``mrs.nets.fast.forward_flops``)."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        fn()
    kinds = {"convolution": 0, "linear": 0, "attention": 0}
    for op, n in counter.get_flop_counts()["Global"].items():
        name = str(op)
        kinds["convolution" if "convolution" in name else
              "linear" if any(k in name for k in ("addmm", ".mm")) else "attention"] += int(n)
    kinds["total"] = sum(kinds.values())
    return kinds


def flops(args, net, vq) -> dict:
    x, t, y, mask = forward_inputs(net, args.config["image"], args.device)
    try:
        via_library = forward_flops(net, 1, x.shape[-1])["total"]
        library_error = None
    except Exception as e:                     # noqa: BLE001 - reported, not hidden
        via_library, library_error = None, f"{type(e).__name__}: {e}"
    common.progress("FLOPs: network forward, encode, decode (FlopCounterMode)")
    with torch.inference_mode():
        z = vq.encode(y)
    return {"network": count_flops(lambda: net(x, t, y, mask)), "encode": count_flops(lambda: vq.encode(y)),
            "decode": count_flops(lambda: vq.decode(z)),
            "forward_flops_total": via_library, "forward_flops_error": library_error}


# -- measure and report ------------------------------------------------------------------------

def measure(args) -> dict:
    args.config = QUICK if args.quick else FULL
    args.repeats = args.repeats or (1 if args.quick else 3)
    args.forward_repeats = args.forward_repeats or (1 if args.quick else 5)
    common.progress(f"building: ResShiftUNet preset {args.config['unet']!r}, "
                    f"VQ {args.config['vq'] or 'face'}")
    net, vq, proc = build(args.config, args.device)
    off, official = {}, None
    if args.official:
        off = import_official(args.official)
        off["unet_model"] = official_unet(off["unet"], net).to(args.device)
        if off["vq"] is not None:
            ov = official_vq(off["vq"], args.config["vq"], args.config["image"], vq)
            off["vq_model"] = ov.to(args.device)
        official = {"path": off["path"], "stubs": off["stubs"], "vq_error": off["vq_error"],
                    "unet_parameters": count_parameters(off["unet_model"]),
                    "vq_parameters": count_parameters(off["vq_model"]) if off.get("vq_model") else None}
    data = {"settings": {"config": args.config, "unet_config": net.cfg.to_dict(), "dtypes": args.dtypes,
                         "repeats": args.repeats, "forward_repeats": args.forward_repeats,
                         "warmup": args.warmup, "seed": args.seed, "batch": 1, "matmul_n": MATMUL_N},
            "parameters": {"network": count_parameters(net), "autoencoder": count_parameters(vq)},
            "official": official}
    data["end_to_end"] = end_to_end(args, net, vq, proc, off)
    data["forward"] = forward_side_by_side(args, net, proc, off)
    data["flops"] = flops(args, net, vq)
    return data


def ratio(d: dict, a: str, b: str):
    """Median over rounds of ``time[a] / time[b]`` (interleaved rounds), or None."""
    if a not in d or b not in d:
        return None
    return statistics.median(x / y for x, y in zip(d[a]["times_s"], d[b]["times_s"]))


def report(d: dict) -> None:
    e2e, fwd, fl = d["end_to_end"], d["forward"], d["flops"]
    size = d["settings"]["config"]["image"]
    names = [k for k in e2e if isinstance(e2e[k], dict)]
    rows = []
    for k in names:
        r, tot = e2e[k], e2e[k]["total"]["median_s"]
        ae = r["encode"]["median_s"] + r["decode"]["median_s"]
        rows.append([k, tot, r["encode"]["median_s"], r["network"]["median_s"], r["decode"]["median_s"],
                     r["other"]["median_s"], 100 * ae / tot, 100 * r["network"]["median_s"] / tot,
                     statistics.median(r["nfe"])])
    common.print_table(
        f"end to end: one {size}-px image inpainted (encode + network evaluations + decode + paste-back)",
        ["system dtype", "total s", "encode s", "network s", "decode s", "other s", "autoencoder %",
         "network %", "NFE"], rows,
        notes=["medians over interleaved rounds; the split is timed inside the same calls; "
               "autoencoder % = (encode + decode) / total"]
        + (["official: ResShift's UNetModelSwin and VQModelTorch (same weights) in the same "
            "pipeline, process and sampler"] if any(k.startswith("official") for k in names) else [])
        + (["bf16: each part (encode, every network evaluation, decode) under "
            "torch.autocast(bfloat16), its output cast to float32; ours looks codes up in float32, "
            "VQModelTorch in bfloat16"] if "bf16" in d["settings"]["dtypes"] else [])
        + ([f"max |ours - official| of the fp32 output: "
            f"{common.fmt(e2e['max_abs_diff_ours_vs_official_fp32'])}"]
           if "max_abs_diff_ours_vs_official_fp32" in e2e else []))
    dts = d["settings"]["dtypes"]
    if any(f"official {dt}" in e2e for dt in dts):
        parts = ("total", *PARTS)
        common.print_table(
            "official / ours, end to end and by part (> 1: ours is faster)", ["part"] + dts,
            [[p] + [ratio({k: v[p] for k, v in e2e.items() if isinstance(v, dict)}, f"official {dt}",
                          f"ours {dt}") for dt in dts] for p in parts],
            notes=["encode and decode: the autoencoders side by side (VQModelTorch vs ours on "
                   "diffusers' VQModel); network: the 4 evaluations of one call",
                   "medians of the per-round ratios"])
    report_forward(d, fwd, fl, dts)


def report_forward(d: dict, fwd: dict, fl: dict, dts) -> None:
    rate = {dt: fwd[f"matmul {dt}"]["gflops"] for dt in ("fp32", "bf16")}
    net_flops = fl["network"]["total"]
    rows = []
    for name in ("ours", "official"):
        for dt in dts:
            key = f"{name} {dt}"
            if key in fwd:
                t = fwd[key]["median_s"]
                rows.append([key, t, ratio(fwd, key, f"ours {dt}"), net_flops / t / 1e9,
                             net_flops / rate[dt] / 1e9, t / (net_flops / rate[dt] / 1e9)])
    shape = fwd["input"]
    common.print_table(
        f"network forward side by side: x_t {'x'.join(map(str, shape[0]))}, t = {shape[1]}, "
        f"y {'x'.join(map(str, shape[2]))}",
        ["net dtype", "median s", "/ ours", "GFLOP/s", "floor s", "/ floor"], rows,
        notes=["interleaved rounds with the matmuls below; '/ ours': median of per-round ratios "
               "(official / ours > 1: ours is faster)",
               "floor: FLOPs / this dtype's 2048 matmul rate, measured in the same rounds"]
        + [f"max |official - ours| ({dt}): {common.fmt(fwd[f'official {dt}']['max_abs_diff_to_ours'])}"
           for dt in dts if f"official {dt}" in fwd])
    e2e_flops = fl["encode"]["total"] + 4 * net_flops + fl["decode"]["total"]
    kinds = ("convolution", "linear", "attention")
    rows = [[what, c["total"] / 1e9] + [c[k] / 1e9 for k in kinds]
            + [c["total"] / rate[dt] / 1e9 for dt in ("fp32", "bf16")]
            for what, c in (("network forward", fl["network"]), ("encode", fl["encode"]),
                            ("decode", fl["decode"]))]
    rows.append(["end to end (enc + 4 net + dec)", e2e_flops / 1e9, None, None, None,
                 e2e_flops / rate["fp32"] / 1e9, e2e_flops / rate["bf16"] / 1e9])
    lib = (f"mrs.nets.fast.forward_flops gives {common.fmt(fl['forward_flops_total'] / 1e9)} GFLOP"
           if fl["forward_flops_total"] is not None else
           f"mrs.nets.fast.forward_flops does not accept ResShiftUNet ({fl['forward_flops_error']}); "
           "counted here with FlopCounterMode")
    common.print_table(
        "FLOP floor (GFLOP; floor = FLOPs / matmul rate)",
        ["pass", "GFLOP", "conv", "linear", "attention", "floor fp32 s", "floor bf16 s"], rows,
        notes=[f"matmul {MATMUL_N}: fp32 {common.fmt(rate['fp32'])} GFLOP/s, bf16 "
               f"{common.fmt(rate['bf16'])} GFLOP/s (medians of the forward rounds)", lib,
               "2 FLOPs per multiply-add; norms, activations and other element-wise work not counted"])


if __name__ == "__main__":
    common.main(__file__, __doc__, add_args, measure, report)
