"""Training: a trainer that resumes bit-identically, in phases that benchmarks reuse.

One training step (notebook 08), each phase a method of ``Trainer``::

    1. data             x0 ~ data,  M ~ masks,  y = (1 - M) x0                     (batch)
    2. forward process  t ~ U{1..T},  x_t ~ q(x_t | x0, y)                         (noisy)
    3. loss             MSE(f(x_t, t, y, M), x0) + lpips_weight * LPIPS(...)       (loss)
    4. update           AdamW step at lr_at(step), gradient clipping               (update)
    5. EMA              ema <- decay * ema + (1 - decay) * weights                 (update_ema)

Every random draw of step ``s`` comes from a generator seeded by ``(seed, s, rank)`` and the data
index is a function of ``s``, so a run stopped and resumed from a checkpoint continues exactly as
an uninterrupted one (bit-identical on CPU).

Real images (``cfg.data``: a folder, a Hugging Face dataset, ``celeba_hq_256`` ...) are split once
into training and validation images, recorded in ``split.json``; validation reads only its own.
The step runs in ``cfg.precision`` (``mrs.training.precision``: float32, or autocast to bfloat16 /
float16 with a gradient scaler); the precision used is in every checkpoint JSON and in ``train.log``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from ..core import metrics
from ..core.masks import degrade, random_masks, to_latent
from ..data import training_data, validation_split
from ..data.seeds import TRAIN_MASKS, step_items, stream_seed
from ..data.sources import SPLIT_FILE, write_split
from ..nets import build_net, denoiser_of, describe_net, net_config, noise_map
from ..pipelines.checkpoint import CheckpointError, load_checkpoint, load_state_strict, save_checkpoint
from ..sampling import as_sampler
from .batch_cache import BatchCache
from .config import RESUME_CHANGES, TrainConfig, lr_at
from .losses import InpaintingLoss, load_lpips
from .monitor import Every, RunLog, append_metrics, data_summary, save_grid, truncate_metrics
from .precision import autocast, fused_adamw_ok, grad_scaler, resolve_precision

__all__ = ["Trainer", "Batch", "METRIC_FIELDS", "RESUME_CHANGES"]

METRIC_FIELDS = ["step", "lr", "loss", "mse", "lpips", "val_psnr", "val_hole_psnr", "val_ssim",
                 "val_lpips", "seconds"]


@dataclass
class Batch:
    """One step's data: images ``x0``, masks (1 = hole), degraded ``y`` and the step's generator
    (which then draws ``t`` and the noise); ``latents``: ``(E(x0), E(y))`` read from precomputed
    batches (``mrs.training.batch_cache``), and then ``y`` is None (``x0`` too, without LPIPS)."""

    x0: torch.Tensor | None
    mask: torch.Tensor
    y: torch.Tensor | None
    generator: torch.Generator
    latents: tuple | None = None


class Trainer:
    """Trains one config into ``out_dir`` (checkpoints ``ckpt_*.{safetensors,json}``,
    ``metrics.csv``, ``config.json``, ``train.log``, ``split.json`` for real images, ``samples/``).
    ``Trainer(cfg, out).run()``; ``Trainer.resume(out, steps=N).run()``.

    ``dataset``: a Python dataset object (e.g. ``mrs.data.celeba(...)``, a ``datasets.Dataset``)
    to train on instead of ``cfg.data``; pass it again to ``resume``. ``batches``: a folder of
    precomputed batches (``mrs.training.batch_cache``) to read the latents of ``x0`` and ``y`` from."""

    def __init__(self, cfg: TrainConfig, out_dir, device=None, progress: bool = True,
                 lpips_model="auto", sampler=None, dataset=None, batches=None):
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
        self.precision = resolve_precision(cfg.requested_precision, self.device)
        self.scaler = grad_scaler(self.precision, self.device)   # fp16 only
        torch.manual_seed(cfg.seed)  # the initial weights
        self.proc = cfg.process.build(cfg.schedule.build())
        self.sampler = as_sampler(sampler)  # validation sampling
        self.net = build_net(cfg.arch, net_config(cfg.arch, cfg.net, cfg.schedule,
                                                  use_noise_map=cfg.use_noise_map)).to(self.device)
        # the EMA through torch's averaging utilities; one update now makes it start at the
        # initial weights, so that every step is ema <- decay * ema + (1 - decay) * weights
        self.ema = AveragedModel(self.net, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema_decay))
        self.ema.update_parameters(self.net)
        self.ema.eval().requires_grad_(False)
        # AdamW's fused kernel where this torch has it (12 -> 4 ms per tiny CPU step, bench_training)
        self.opt = torch.optim.AdamW(self.net.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2),
                                     weight_decay=cfg.weight_decay, fused=fused_adamw_ok(self.device))
        self.model = self.net
        if self.world > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.model = torch.nn.parallel.DistributedDataParallel(self.net, device_ids=ids)
        if cfg.compile and self.device.type == "cuda":
            self.model = torch.compile(self.model)
        lp = (load_lpips() if cfg.lpips_weight > 0 else None) if lpips_model == "auto" else lpips_model
        self.loss_fn = InpaintingLoss(cfg.lpips_weight, lp)
        self.real_lpips = lp is not None and not lp.random_backbone
        # latent mode: the frozen autoencoder (loaded after the net: building it draws from the
        # global generator, which seeded the net's initial weights above)
        self.autoencoder = None
        if cfg.autoencoder:
            from ..pipelines.autoencoders import load_autoencoder

            self.autoencoder = load_autoencoder(cfg.autoencoder, device=self.device)
            self.autoencoder.scale = cfg.latent_scale
        self._load_data(dataset)
        self.cache = BatchCache(batches, self) if batches is not None else None
        self.log = RunLog(self.out / "train.log", enabled=self.rank == 0)
        self.step = 0

    def data_summary(self) -> dict:  # source, image counts, skipped images (log, checkpoints)
        return data_summary(self.cfg.data, self.split, self.images, self.val_images)

    def _load_data(self, dataset) -> None:
        """The training images and the validation split (real images: disjoint, ``split.json``)."""
        cfg = self.cfg
        data = training_data(cfg.data if dataset is None else dataset, cfg.image_size, cfg.seed,
                             cfg.train_pool, cfg.val_holdout or cfg.val_size, run_dir=self.out)
        if data.split is not None and data.split["source"] != cfg.data:   # a dataset object
            self.cfg = cfg = dataclasses.replace(cfg, data=data.split["source"])
        self.images, self.val_images, self.split = data.train, data.val, data.split
        self.val = validation_split(cfg.val_size, cfg.image_size, images=data.val)

    # -- one step, in phases -------------------------------------------------------------------
    def items(self, step: int) -> list:  # the indices of step's training images on this rank
        return step_items(len(self.images), self.cfg.batch_size, self.cfg.seed, step * self.world + self.rank)

    def batch(self, step: int) -> Batch:
        """Phase 1, data: ``Batch`` for optimisation step ``step`` on this rank (deterministic). With
        precomputed batches the images are rendered only if the loss needs them (LPIPS)."""
        cfg, items = self.cfg, self.items(step)
        g = torch.Generator().manual_seed(stream_seed(cfg.seed + TRAIN_MASKS, step * self.world + self.rank))
        mask = random_masks(cfg.mask_kind, cfg.batch_size, cfg.image_size, g)
        latents = self.cache.get(step, items, mask) if self.cache is not None else None
        pixels = latents is None or (self.loss_fn.lpips is not None and cfg.lpips_weight > 0)  # LPIPS
        x0 = torch.stack([self.images[i] for i in items]) if pixels else None
        return Batch(x0, mask, degrade(x0, mask, cfg.fill) if latents is None else None, g, latents)

    def encode_pair(self, x0, y):
        """``(E(x0), E(y))``, float32: one batched call of the frozen encoder, as ``noisy`` makes it."""
        with torch.no_grad(), autocast(self.precision, self.device):
            return self.autoencoder.encode(torch.cat([x0, y])).float().chunk(2)

    def noisy(self, batch: Batch):
        """Phase 2, forward process: ``(x0, mask, y, t, x_t)`` on the device, ``t ~ U{1..T}``,
        ``x_t ~ q(x_t | x0, y)``. In latent mode ``x0 := E(x0)``, ``y := E(y)`` (the frozen
        autoencoder) and the mask is ``to_latent(mask)``: the process runs on latents, and where
        its rate is 0 ``x_t`` holds ``E(y)``, as in sampling."""
        g, B, mask = batch.generator, batch.mask.shape[0], batch.mask.to(self.device)
        if batch.latents is not None:   # precomputed: the same tensors encode_pair returns
            x0, y = (z.to(self.device) for z in batch.latents)
        else:
            x0, y = batch.x0.to(self.device), batch.y.to(self.device)
            if self.autoencoder is not None:
                x0, y = self.encode_pair(x0, y)
        if self.autoencoder is not None:
            mask = to_latent(mask, self.autoencoder.factor, self.cfg.latent_mask)
        t = torch.randint(1, self.proc.T + 1, (B,), generator=g).to(self.device)
        noise = torch.randn(x0.shape, generator=g).to(self.device)
        x_t = self.proc.q_sample(x0, y, mask, t, noise=noise)
        if self.autoencoder is not None:
            # where the rate is 0 the sampler holds the latents of y (E(y), not E(x0): the encoder
            # lets the hole leak into them); training shows the net the same
            x_t = torch.where(self.proc.rate(mask) == 0, y, x_t)
        return x0, mask, y, t, x_t

    def loss(self, x0, mask, y, t, x_t, batch: Batch | None = None):
        """Phase 3, loss: the net's prediction of ``x0`` and ``InpaintingLoss`` -> (loss, parts).

        A net conditioned on the image (``conditions_on_image``) sees ``batch``'s image-resolution
        ``y`` and mask; in latent mode LPIPS (when its weights exist) compares the decoded
        prediction with ``batch.x0``."""
        cond_y, cond_mask = y, mask
        if getattr(self.net, "conditions_on_image", False):
            if batch is None:
                raise ValueError("this net is conditioned on the image: pass batch=")
            cond_y, cond_mask = batch.y.to(self.device), batch.mask.to(self.device)
        pair = None
        if self.autoencoder is not None and batch is not None:
            def pair():   # the decoder in the step's precision, LPIPS in float32
                with autocast(self.precision, self.device):
                    return self.autoencoder.decode(x0_pred).float(), batch.x0.to(self.device)
        with autocast(self.precision, self.device):
            extra = {"noise_map": noise_map(self.proc, mask, t)} if self.cfg.use_noise_map else {}
            x0_pred = self.model(x_t, t, cond_y, cond_mask, **extra)
        return self.loss_fn(x0_pred.float(), x0, lpips_pair=pair)

    def update(self, loss: torch.Tensor, step: int) -> float:
        """Phase 4, update: backward, clip, AdamW at ``lr_at(cfg, step)``; returns the lr."""
        lr = lr_at(self.cfg, step)
        for group in self.opt.param_groups:
            group["lr"] = lr
        self.opt.zero_grad(set_to_none=True)
        (loss if self.scaler is None else self.scaler.scale(loss)).backward()   # fp16: S * loss
        if self.scaler is not None:
            self.scaler.unscale_(self.opt)   # gradients / S, before clipping
        if self.cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), self.cfg.grad_clip)
        if self.scaler is None:
            self.opt.step()
        else:  # skipped when the gradients overflowed; S adapts
            self.scaler.step(self.opt)
            self.scaler.update()
        return lr

    def update_ema(self) -> None:
        """Phase 5: ``ema <- decay * ema + (1 - decay) * weights``."""
        self.ema.update_parameters(self.net)

    def train_step(self, step: int) -> dict:
        """Phases 1-5 for step ``step``; returns the loss parts and the lr (floats)."""
        batch = self.batch(step)
        loss, parts = self.loss(*self.noisy(batch), batch=batch)
        lr = self.update(loss, step)
        self.update_ema()
        return dict(parts, lr=lr)

    # -- validation -----------------------------------------------------------------------------
    @torch.no_grad()
    def sample_validation(self, n: int | None = None):
        """``(x0, mask, y, out)``: the EMA net's samples (``self.sampler``, fixed seed 2024) for the
        first ``n`` images of the validation split (all by default)."""
        x0, mask, y = (z[:n].to(self.device) for z in self.val)
        if self.cfg.fill != 0:
            y = degrade(x0, mask, self.cfg.fill)
        g = torch.Generator().manual_seed(2024)
        den = denoiser_of(self.ema.module, self.proc, y, mask)
        if self.autoencoder is None:
            out = self.sampler(self.proc, den, y, mask, generator=g)
        else:
            ae = self.autoencoder
            z = self.sampler(self.proc, den, ae.encode(y), to_latent(mask, ae.factor, self.cfg.latent_mask),
                             generator=g)
            out = ae.decode(z).clamp(-1, 1)
        return x0, mask, y, out

    @torch.no_grad()
    def validate(self) -> dict:
        """Metrics of ``sample_validation()`` on the whole validation split."""
        x0, mask, _, out = self.sample_validation()
        res = {"val_psnr": float(metrics.psnr(out, x0).mean()),
               "val_hole_psnr": float(metrics.hole_psnr(out, x0, mask).mean()),
               "val_ssim": float(metrics.ssim(out, x0).mean()) if self.cfg.image_size >= 11 else ""}
        lp = self.loss_fn.lpips
        res["val_lpips"] = float(lp(out, x0).mean()) if (lp is not None and self.real_lpips) else ""
        return res

    # -- checkpoints ----------------------------------------------------------------------------
    def save(self) -> Path:
        tensors = {f"model.{k}": v for k, v in self.net.state_dict().items()}
        tensors.update({f"ema.{k}": v for k, v in self.ema.module.state_dict().items()})
        opt_state = self.opt.state_dict()
        steps = {}
        for i, st in opt_state["state"].items():
            tensors[f"opt.{i}.exp_avg"] = st["exp_avg"]
            tensors[f"opt.{i}.exp_avg_sq"] = st["exp_avg_sq"]
            steps[str(i)] = float(st["step"])
        groups = opt_state["param_groups"]
        cfg = self.cfg
        meta = {"step": self.step, "train_config": cfg.to_dict(), "net": describe_net(self.net),
                "process": cfg.process.to_dict(), "schedule": cfg.schedule.to_dict(),
                "image_size": cfg.image_size, "loss": self.loss_fn.describe(),
                "autoencoder": cfg.autoencoder, "latent_mask": cfg.latent_mask,
                "latent_scale": cfg.latent_scale, "fill": cfg.fill,
                "precision": self.precision, "device": str(self.device), "data": self.data_summary(),
                "optimizer": {"groups": groups, "steps": steps}}
        if self.scaler is not None:
            meta["grad_scaler"] = self.scaler.state_dict()
        path = save_checkpoint(self.out / f"ckpt_{self.step:07d}", tensors, meta)
        for old in sorted(self.out.glob("ckpt_*.json"))[:-2]:  # keep the last two
            old.unlink(missing_ok=True)
            old.with_suffix(".safetensors").unlink(missing_ok=True)
        return path

    def load(self, stem) -> None:
        tensors, meta = load_checkpoint(stem)
        held = (meta.get("train_config", {}).get("arch"), meta.get("train_config", {}).get("net"))
        if held != (self.cfg.arch, self.cfg.net):
            raise CheckpointError(f"checkpoint {stem} holds net {held}, not {(self.cfg.arch, self.cfg.net)}")
        load_state_strict(self.net, {k[6:]: v for k, v in tensors.items() if k.startswith("model.")},
                          "model")
        load_state_strict(self.ema.module, {k[4:]: v for k, v in tensors.items() if k.startswith("ema.")},
                          "EMA model")
        opt = meta["optimizer"]
        state = {int(i): {"step": torch.tensor(s), "exp_avg": tensors[f"opt.{i}.exp_avg"],
                          "exp_avg_sq": tensors[f"opt.{i}.exp_avg_sq"]} for i, s in opt["steps"].items()}
        try:
            self.opt.load_state_dict({"state": state, "param_groups": opt["groups"]})
        except (ValueError, KeyError) as err:
            raise CheckpointError(f"optimiser state in {stem} does not match: {err}") from None
        self.step = int(meta["step"])
        self.ema.n_averaged.fill_(self.step + 1)  # the initial copy plus one update per step
        if self.scaler is not None and "grad_scaler" in meta:
            self.scaler.load_state_dict(meta["grad_scaler"])

    @classmethod
    def resume(cls, out_dir, steps: int | None = None, changes: dict | None = None,
               **kwargs) -> "Trainer":
        """Continue the run in ``out_dir`` from its latest checkpoint, up to ``steps`` in total.

        ``changes``: config fields that may differ from the saved run without changing what it
        trains (``RESUME_CHANGES``: precision, bookkeeping); any other differing field raises
        ``ValueError``. ``kwargs`` go to ``Trainer`` (``device``, ``dataset`` ...)."""
        out = Path(out_dir)
        found = sorted(out.glob("ckpt_*.json"))
        if not found:
            raise CheckpointError(f"no checkpoint (ckpt_*.json) in {out} to resume from")
        meta = json.loads(found[-1].read_text())
        if meta.get("format") != "mrs-checkpoint-2":
            raise CheckpointError(f"{found[-1]} was written by an older mrs: it can be loaded "
                                  "(mrs.load_pretrained) but not resumed")
        cfg = TrainConfig.from_dict(meta["train_config"]).resumed(steps, changes)
        trainer = cls(cfg, out, **kwargs)
        trainer.load(found[-1])
        return trainer

    # -- the loop -------------------------------------------------------------------------------
    def run(self, until: int | None = None) -> Path | None:
        """Train from ``self.step`` to ``cfg.steps`` (or stop early at ``until``, as if
        interrupted); on rank 0 validates, logs (``metrics.csv``, ``train.log``), writes sample
        grids and checkpoints (every ``ckpt_every`` steps, every ``ckpt_minutes``, at the end)."""
        from tqdm.auto import tqdm

        cfg, main = self.cfg, self.rank == 0
        stop = min(cfg.steps, until if until is not None else cfg.steps)
        if main:
            self._start_files(stop)
        self.net.train()
        bar = tqdm(total=stop, initial=self.step, disable=not (self.progress and main),
                   desc=f"train {cfg.process.name} ({self.precision})", leave=False)
        last, self._acc, self._n, self._clock = None, {}, 0, Every(cfg.ckpt_minutes)
        while self.step < stop:
            parts = self.train_step(self.step)
            self.step += 1
            for k, v in parts.items():
                self._acc[k] = self._acc.get(k, 0.0) + v
            self._n += 1
            bar.update(1)
            bar.set_postfix(loss=f"{parts['loss']:.4f}")
            if main:
                last = self._bookkeeping(parts, end=self.step == stop) or last
        bar.close()
        if main:
            self.log(f"stopped at step {self.step}; data: {self.data_summary()}"
                     + (f"; {self.cache.summary()}" if self.cache is not None else ""))
        if self.world > 1:
            torch.distributed.barrier()
        return last

    def _start_files(self, stop: int) -> None:
        """config.json, split.json (real images) and the first lines of train.log."""
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "config.json").write_text(json.dumps(self.cfg.to_dict(), indent=1))
        if self.split is not None and not (self.out / SPLIT_FILE).exists():
            write_split(self.out / SPLIT_FILE, self.split)
        # the clock of metrics.csv's ``seconds`` goes on from what the kept rows record (a resume)
        self._t0 = time.time() - truncate_metrics(self.out / "metrics.csv", self.step, METRIC_FIELDS)
        where = (torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else str(self.device))
        self.log(f"{'resume at' if self.step else 'start at'} step {self.step} of {stop} "
                 f"(world {self.world}) on {where}; precision {self.precision} "
                 f"(requested {self.cfg.requested_precision}); data: {self.data_summary()}")

    def _bookkeeping(self, parts: dict, end: bool) -> Path | None:
        """After a step on rank 0: the metrics row, a sample grid, a checkpoint when due."""
        cfg, step = self.cfg, self.step
        if step % cfg.val_every == 0 or end:
            acc, n = self._acc, self._n
            row = {k: acc.get(k, 0.0) / n for k in ("loss", "mse")}
            row["lpips"] = acc["lpips"] / n if "lpips" in acc and self.real_lpips else ""
            row.update(step=step, lr=parts["lr"], seconds=round(time.time() - self._t0, 3))
            row.update(self.validate())
            self.net.train()
            append_metrics(self.out / "metrics.csv", row, METRIC_FIELDS)
            self.log(f"step {step}: loss {row['loss']:.5g}, val PSNR {row['val_psnr']:.3f} dB, "
                     f"hole-PSNR {row['val_hole_psnr']:.3f} dB")
            self._acc, self._n = {}, 0
        if cfg.sample_every and (step % cfg.sample_every == 0 or end):
            x0, _, y, out = self.sample_validation(min(8, cfg.val_size))
            save_grid(self.out / "samples" / f"step_{step:07d}.png", [y, out, x0])
        why = ("end" if end else f"every {cfg.ckpt_every} steps" if step % cfg.ckpt_every == 0
               else f"every {cfg.ckpt_minutes:g} min" if self._clock.due() else None)
        if why is None:
            return None
        path = self.save()
        self._clock.reset()
        self.log(f"checkpoint {path.name} ({why})")
        return path
