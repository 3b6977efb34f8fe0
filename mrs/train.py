"""Training: the seed's recipe as a frozen config, a trainer that resumes bit-identically, export.

One training step (notebook 08)::

    x0 ~ data,  M ~ masks,  y = (1 - M) x0,  t ~ U{1..T},  x_t ~ q(x_t | x0, y)   (the process)
    loss = MSE(f(x_t, t, y, M), x0) + lpips_weight * LPIPS(f(...), x0)

Every random draw of step ``s`` comes from a generator seeded by ``(seed, s, rank)`` and the data
index is a function of ``s``, so a run stopped and resumed from a checkpoint continues exactly as
an uninterrupted one (bit-identical on CPU). The learning rate is a function of the step: linear
warm-up, then cosine decay to zero at ``steps``.
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from . import metrics
from .checkpoint import CheckpointError, load_checkpoint, load_state_strict, save_checkpoint
from .data import FaceFolder, SyntheticFaces, _face_seed, validation_split
from .losses import InpaintingLoss, load_lpips
from .masks import random_masks
from .nets import SwinUNet, SwinUNetConfig, noise_map
from .processes import PROCESS_NAMES, make_process, process_options
from .sampling import sample
from .schedule import Schedule

__all__ = ["TrainConfig", "Trainer", "as_denoiser", "build_process", "export_weights",
           "load_pretrained", "list_pretrained", "METRIC_FIELDS"]

METRIC_FIELDS = ["step", "lr", "loss", "mse", "lpips", "val_psnr", "val_hole_psnr", "val_ssim",
                 "val_lpips", "seconds"]


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run (saved in every checkpoint)."""

    # -- what is trained
    process: str = "emmd_smooth"       # forward process: resshift | mvd | emmd | emmd_smooth
    net: str = "tiny"                  # network preset of mrs.nets.SwinUNetConfig
    use_noise_map: bool = False        # feed the per-pixel noise map rho * eta_t to the net
    blur_width: float = 2.0            # rate smoothing (emmd_smooth, and mvd's soft mask)
    noise_floor: float = 0.02          # minimal rate of every pixel (emmd_smooth)
    # -- the schedule (ResShift's exponential schedule)
    diffusion_steps: int = 4           # T
    kappa: float = 2.0                 # noise scale
    min_noise_level: float = 0.2       # sqrt(eta_1) = min(min_noise_level / kappa, min_noise_level)
    etas_end: float = 0.99             # sqrt(eta_T)
    power: float = 0.3                 # warping of the step positions
    # -- data
    data: str = "synthetic"            # "synthetic" or a folder of face images
    image_size: int = 32               # training resolution (square)
    mask_kind: str = "mixed"           # irregular | box | outpaint | mixed
    train_pool: int = 20_000           # number of distinct synthetic training faces
    # -- optimisation (AdamW, linear warm-up, cosine decay)
    steps: int = 2000                  # total optimisation steps
    batch_size: int = 8                # images per step (per process under torchrun)
    lr: float = 5e-4                   # peak learning rate
    beta1: float = 0.9                 # AdamW betas
    beta2: float = 0.999
    weight_decay: float = 0.0          # AdamW weight decay
    warmup_steps: int = 100            # linear warm-up from 0 to lr
    ema_decay: float = 0.99            # exponential moving average of the weights
    lpips_weight: float = 10.0         # loss = MSE + lpips_weight * LPIPS (when weights exist)
    grad_clip: float = 1.0             # max gradient norm (0 = off)
    # -- bookkeeping
    val_every: int = 250               # validate (EMA net, full sampling) every N steps
    val_size: int = 16                 # images in the fixed validation split
    ckpt_every: int = 500              # checkpoint every N steps (and at the end)
    seed: int = 0                      # seeds data order, masks, t and noise
    amp: bool = True                   # bfloat16 autocast on CUDA (ignored on CPU)
    compile: bool = False              # torch.compile the net on CUDA

    def __post_init__(self):
        if self.process not in PROCESS_NAMES:
            raise ValueError(f"process must be one of {PROCESS_NAMES}, got {self.process!r}")
        for name in ("steps", "batch_size", "image_size", "diffusion_steps", "val_size",
                     "val_every", "ckpt_every", "train_pool"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be an int >= 1, got {v!r}")
        if not (self.lr > 0 and 0 <= self.ema_decay < 1 and self.warmup_steps >= 0):
            raise ValueError("lr must be > 0, ema_decay in [0, 1), warmup_steps >= 0")

    @classmethod
    def preset(cls, name: str, **overrides) -> "TrainConfig":
        """``paper``: the seed's settings (AdamW 5e-5, 5000 warm-up steps, EMA 0.99, batch 4,
        200k steps, 64x64, paper net); ``tiny``: learns visibly on CPU in minutes (32x32)."""
        presets = {
            "paper": dict(net="paper", image_size=64, steps=200_000, batch_size=4, lr=5e-5,
                          warmup_steps=5000, ema_decay=0.99, val_every=5000, ckpt_every=5000,
                          val_size=32),
            "tiny": dict(net="tiny", image_size=32, steps=2000, batch_size=8, lr=5e-4,
                         warmup_steps=100, ema_decay=0.99, val_every=250, ckpt_every=500),
        }
        if name not in presets:
            raise ValueError(f"preset must be one of {sorted(presets)}, got {name!r}")
        return cls(**{**presets[name], **overrides})

    def schedule(self) -> Schedule:
        return Schedule.exponential(self.diffusion_steps, self.kappa, self.min_noise_level,
                                    self.etas_end, self.power)


def build_process(cfg: TrainConfig):
    """The process a config trains, with its options."""
    opts = process_options(cfg.process, blur_width=cfg.blur_width, noise_floor=cfg.noise_floor)
    return make_process(cfg.process, cfg.schedule(), **opts)


def _net_config(cfg: TrainConfig, sch: Schedule):
    return dataclasses.replace(
        SwinUNetConfig.preset(cfg.net), use_noise_map=cfg.use_noise_map, kappa=float(sch.kappa),
        etas=tuple(float(e) for e in sch.etas[1:]),
    )


def as_denoiser(net: torch.nn.Module, proc):
    """Wrap a SwinUNet as an ``mrs.sample`` denoiser (``net.denoiser(proc)``: it adds the noise map
    ``rho * eta_t`` when the net was trained with it, and refuses a process with another schedule)."""
    return net.denoiser(proc)


def _fused_ok(device: torch.device) -> bool:
    """Whether AdamW's fused kernel exists for ``device`` in this torch."""
    try:
        torch.optim.AdamW([torch.zeros(1, device=device, requires_grad=True)], fused=True)
    except (RuntimeError, ValueError, TypeError):
        return False
    return True


def lr_at(cfg: TrainConfig, step: int) -> float:
    """Learning rate for optimisation step ``step`` (0-based): warm-up, then cosine to zero."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    span = max(1, cfg.steps - cfg.warmup_steps)
    return 0.5 * cfg.lr * (1 + math.cos(math.pi * min(1.0, (step - cfg.warmup_steps) / span)))


class Trainer:
    """Trains one config into ``out_dir`` (checkpoints ``ckpt_*.{safetensors,json}``,
    ``metrics.csv``). ``Trainer(cfg, out).run()``; ``Trainer.resume(out, steps=N).run()``."""

    def __init__(self, cfg: TrainConfig, out_dir, device=None, progress: bool = True,
                 lpips_model="auto"):
        self.cfg, self.out = cfg, Path(out_dir)
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.progress = progress
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        if self.world > 1 and not torch.distributed.is_initialized():
            backend = "nccl" if self.device.type == "cuda" else "gloo"
            torch.distributed.init_process_group(backend)
            if self.device.type == "cuda":
                self.device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.manual_seed(cfg.seed)  # the initial weights
        self.proc = build_process(cfg)
        self.net = SwinUNet(_net_config(cfg, self.proc.schedule)).to(self.device)
        self.ema = copy.deepcopy(self.net).eval().requires_grad_(False)
        # the fused AdamW kernel (one pass over every parameter; 12 -> 4 ms per tiny step on CPU,
        # benchmarks/bench_training.py) where this torch has it
        self.opt = torch.optim.AdamW(self.net.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2),
                                     weight_decay=cfg.weight_decay, fused=_fused_ok(self.device))
        self.model = self.net
        if self.world > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.model = torch.nn.parallel.DistributedDataParallel(self.net, device_ids=ids)
        if cfg.compile and self.device.type == "cuda":
            self.model = torch.compile(self.model)
        lp = load_lpips() if (lpips_model == "auto" and cfg.lpips_weight > 0) else (
            None if lpips_model == "auto" else lpips_model)
        self.loss_fn = InpaintingLoss(cfg.lpips_weight, lp)
        self.real_lpips = lp is not None and not getattr(lp, "random_backbone", False)
        if cfg.data == "synthetic":
            self.images = SyntheticFaces(cfg.image_size, cfg.seed, length=cfg.train_pool, cache=False)
            val_images = None
        else:
            self.images = FaceFolder(cfg.data, cfg.image_size)
            val_images = self.images  # users with one folder: the split reuses its first images
        self.val = validation_split(cfg.val_size, cfg.image_size, images=val_images)
        self.step = 0

    # -- data and one step ----------------------------------------------------------------------
    def batch(self, step: int):
        """``(x0, mask, y)`` for optimisation step ``step`` on this rank (deterministic)."""
        cfg, n = self.cfg, len(self.images)
        base = (step * self.world + self.rank) * cfg.batch_size
        order = _epoch_order(n, base // n, cfg.seed) if n < 10**6 else None
        idx = [(base + k) % n for k in range(cfg.batch_size)]
        x0 = torch.stack([self.images[int(order[i]) if order is not None else i] for i in idx])
        g = torch.Generator().manual_seed(_face_seed(cfg.seed + 31, step * self.world + self.rank))
        mask = random_masks(cfg.mask_kind, cfg.batch_size, cfg.image_size, g)
        return x0, mask, (1 - mask) * x0, g

    def train_step(self, step: int) -> dict:
        cfg, dev = self.cfg, self.device
        x0, mask, y, g = self.batch(step)
        t = torch.randint(1, cfg.diffusion_steps + 1, (cfg.batch_size,), generator=g)
        noise = torch.randn(x0.shape, generator=g)
        x0, mask, y, t, noise = (z.to(dev) for z in (x0, mask, y, t, noise))
        x_t = self.proc.q_sample(x0, y, mask, t, noise=noise)
        lr = lr_at(cfg, step)
        for group in self.opt.param_groups:
            group["lr"] = lr
        autocast = torch.autocast("cuda", dtype=torch.bfloat16,
                                  enabled=cfg.amp and dev.type == "cuda")
        with autocast:
            extra = {}
            if cfg.use_noise_map:
                extra["noise_map"] = noise_map(self.proc, mask, t)
            pred = self.model(x_t, t, y, mask, **extra)
        loss, parts = self.loss_fn(pred.float(), x0)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), cfg.grad_clip)
        self.opt.step()
        with torch.no_grad():
            torch._foreach_lerp_(list(self.ema.parameters()), list(self.net.parameters()),
                                 1 - cfg.ema_decay)
            for be, b in zip(self.ema.buffers(), self.net.buffers()):
                be.copy_(b)
        return dict(parts, lr=lr)

    # -- validation -----------------------------------------------------------------------------
    @torch.no_grad()
    def validate(self) -> dict:
        """EMA net, full T-step sampling on the fixed validation split (fixed seed)."""
        x0, mask, y = (z.to(self.device) for z in self.val)
        g = torch.Generator().manual_seed(2024)
        out = sample(self.proc, as_denoiser(self.ema, self.proc), y, mask, generator=g)
        res = {"val_psnr": float(metrics.psnr(out, x0).mean()),
               "val_hole_psnr": float(metrics.hole_psnr(out, x0, mask).mean()),
               "val_ssim": float(metrics.ssim(out, x0).mean()) if self.cfg.image_size >= 11 else ""}
        lp = self.loss_fn.lpips
        res["val_lpips"] = float(lp(out, x0).mean()) if (lp is not None and self.real_lpips) else ""
        return res

    # -- checkpoints ----------------------------------------------------------------------------
    def save(self) -> Path:
        tensors = {f"model.{k}": v for k, v in self.net.state_dict().items()}
        tensors.update({f"ema.{k}": v for k, v in self.ema.state_dict().items()})
        opt_state = self.opt.state_dict()
        steps = {}
        for i, st in opt_state["state"].items():
            tensors[f"opt.{i}.exp_avg"] = st["exp_avg"]
            tensors[f"opt.{i}.exp_avg_sq"] = st["exp_avg_sq"]
            steps[str(i)] = float(st["step"])
        groups = opt_state["param_groups"]
        meta = {"step": self.step, "train_config": asdict(self.cfg),
                "net_config": asdict(self.net.cfg), "optimizer": {"groups": groups, "steps": steps}}
        path = save_checkpoint(self.out / f"ckpt_{self.step:07d}", tensors, meta)
        for old in sorted(self.out.glob("ckpt_*.json"))[:-2]:  # keep the last two
            old.unlink(missing_ok=True)
            old.with_suffix(".safetensors").unlink(missing_ok=True)
        return path

    def load(self, stem) -> None:
        tensors, meta = load_checkpoint(stem)
        if meta.get("train_config", {}).get("net") != self.cfg.net:
            raise CheckpointError(f"checkpoint {stem} holds net preset "
                                  f"{meta.get('train_config', {}).get('net')!r}, not {self.cfg.net!r}")
        load_state_strict(self.net, {k[6:]: v for k, v in tensors.items() if k.startswith("model.")},
                          "model")
        load_state_strict(self.ema, {k[4:]: v for k, v in tensors.items() if k.startswith("ema.")},
                          "EMA model")
        opt = meta["optimizer"]
        state = {int(i): {"step": torch.tensor(s), "exp_avg": tensors[f"opt.{i}.exp_avg"],
                          "exp_avg_sq": tensors[f"opt.{i}.exp_avg_sq"]} for i, s in opt["steps"].items()}
        try:
            self.opt.load_state_dict({"state": state, "param_groups": opt["groups"]})
        except (ValueError, KeyError) as err:
            raise CheckpointError(f"optimiser state in {stem} does not match: {err}") from None
        self.step = int(meta["step"])

    @classmethod
    def resume(cls, out_dir, steps: int | None = None, **kwargs) -> "Trainer":
        """Continue the run in ``out_dir`` from its latest checkpoint, up to ``steps`` in total."""
        out = Path(out_dir)
        found = sorted(out.glob("ckpt_*.json"))
        if not found:
            raise CheckpointError(f"no checkpoint (ckpt_*.json) in {out} to resume from")
        meta = json.loads(found[-1].read_text())
        cfg = TrainConfig(**{**meta["train_config"], **({"steps": steps} if steps else {})})
        trainer = cls(cfg, out, **kwargs)
        trainer.load(found[-1])
        return trainer

    # -- the loop -------------------------------------------------------------------------------
    def run(self, until: int | None = None) -> Path | None:
        """Train from ``self.step`` to ``cfg.steps`` (or stop early at ``until``, as if
        interrupted); validates, logs to ``metrics.csv`` and checkpoints on rank 0."""
        from tqdm.auto import tqdm

        cfg, main = self.cfg, self.rank == 0
        stop = min(cfg.steps, until if until is not None else cfg.steps)
        if main:
            self.out.mkdir(parents=True, exist_ok=True)
            (self.out / "config.json").write_text(json.dumps(asdict(cfg), indent=1))
            _truncate_metrics(self.out / "metrics.csv", self.step)
        self.net.train()
        bar = tqdm(total=stop, initial=self.step, disable=not (self.progress and main),
                   desc=f"train {cfg.process}", leave=False)
        acc, n_acc, t0, last = {}, 0, time.time(), None
        while self.step < stop:
            parts = self.train_step(self.step)
            self.step += 1
            for k, v in parts.items():
                acc[k] = acc.get(k, 0.0) + v
            n_acc += 1
            bar.update(1)
            bar.set_postfix(loss=f"{parts['loss']:.4f}")
            end = self.step == stop
            if main and (self.step % cfg.val_every == 0 or end):
                row = {k: acc.get(k, 0.0) / n_acc for k in ("loss", "mse")}
                row["lpips"] = acc["lpips"] / n_acc if "lpips" in acc and self.real_lpips else ""
                row.update(step=self.step, lr=parts["lr"], seconds=round(time.time() - t0, 3))
                row.update(self.validate())
                self.net.train()
                _append_metrics(self.out / "metrics.csv", row)
                acc, n_acc = {}, 0
            if main and (self.step % cfg.ckpt_every == 0 or end):
                last = self.save()
        bar.close()
        if self.world > 1:
            torch.distributed.barrier()
        return last


def _epoch_order(n: int, epoch: int, seed: int) -> torch.Tensor:
    return torch.randperm(n, generator=torch.Generator().manual_seed(_face_seed(seed + 17, epoch)))


def _append_metrics(path: Path, row: dict) -> None:
    new = not path.exists()
    with open(path, "a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=METRIC_FIELDS)
        if new:
            w.writeheader()
        w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})


def _truncate_metrics(path: Path, step: int) -> None:
    """Drop logged rows past ``step`` (a resumed run rewrites them)."""
    if not path.exists():
        return
    with open(path, newline="") as f:
        rows = [r for r in csv.DictReader(f) if int(r["step"]) <= step]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=METRIC_FIELDS)
        w.writeheader()
        w.writerows(rows)


# -- shipped weights --------------------------------------------------------------------------

def export_weights(checkpoint, out_stem, dtype=torch.float16, note: str = "") -> Path:
    """Write the EMA weights of a training checkpoint as ``out_stem.safetensors`` (``dtype``) and
    ``out_stem.json`` (net config, process, schedule, training config)."""
    tensors, meta = load_checkpoint(checkpoint)
    ema = {k[4:]: v.to(dtype) if v.is_floating_point() else v
           for k, v in tensors.items() if k.startswith("ema.")}
    info = {"step": meta["step"], "train_config": meta["train_config"],
            "net_config": meta["net_config"], "note": note}
    return save_checkpoint(out_stem, ema, info)


def _pretrained_dir() -> Path:
    """``data/checkpoints`` of a source checkout, else the installed package ``mrs.pretrained``."""
    here = Path(__file__).resolve().parent.parent / "data" / "checkpoints"
    if here.is_dir():
        return here
    try:
        import importlib.resources

        return Path(str(importlib.resources.files("mrs.pretrained")))
    except (ModuleNotFoundError, TypeError):
        return here


def list_pretrained() -> list:
    """Names of the shipped checkpoints (``data/checkpoints/*.json``)."""
    return sorted(p.stem for p in _pretrained_dir().glob("*.json"))


def load_pretrained(name_or_path, device="cpu"):
    """``(net, proc, info)`` from a shipped checkpoint name or an exported ``.json``/stem path.

    The net is in eval mode (float32); ``proc`` is the process it was trained with; wrap it with
    ``as_denoiser(net, proc)`` for ``mrs.sample``."""
    p = Path(name_or_path)
    stem = p.with_suffix("") if p.suffix in (".json", ".safetensors") else p
    if not stem.with_suffix(".json").exists():
        stem = _pretrained_dir() / str(name_or_path)
        if not stem.with_suffix(".json").exists():
            raise CheckpointError(f"no checkpoint {name_or_path!r}; shipped: {list_pretrained()}")
    tensors, info = load_checkpoint(stem)
    nc = dict(info["net_config"])
    for k, v in nc.items():
        if isinstance(v, list):
            nc[k] = tuple(v)
    try:
        net = SwinUNet(SwinUNetConfig(**nc))
    except TypeError as err:
        raise CheckpointError(f"net config in {stem}.json does not match this mrs: {err}") from None
    load_state_strict(net, {k: v.float() for k, v in tensors.items()}, "network")
    cfg = TrainConfig(**info["train_config"])
    return net.eval().to(device), build_process(cfg), info



def export_all(runs_dir, out_dir, note: str = "") -> list:
    """Export the latest checkpoint of every run folder in ``runs_dir`` as ``out_dir/<run>``
    (fp16 EMA weights + JSON) and copy its training log to ``out_dir/<run>.metrics.csv``."""
    import shutil

    runs_dir, out_dir = Path(runs_dir), Path(out_dir)
    done = []
    for run in sorted(p for p in runs_dir.iterdir() if p.is_dir()):
        found = sorted(run.glob("ckpt_*.json"))
        if not found:
            continue
        export_weights(found[-1], out_dir / run.name, note=note)
        if (run / "metrics.csv").exists():
            shutil.copyfile(run / "metrics.csv", out_dir / f"{run.name}.metrics.csv")
        done.append(run.name)
    if not done:
        raise CheckpointError(f"no run with a checkpoint in {runs_dir}")
    return done
