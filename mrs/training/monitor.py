"""What a long run leaves behind besides checkpoints: a text log, sample grids, a wall-clock timer.

* ``RunLog``: ``train.log`` in the run folder, one time-stamped line per event (start or resume,
  device and precision, data and split, validation rows, checkpoints); appended across resumes,
  so a run interrupted several times keeps one history.
* ``save_grid``: rows of images in [-1, 1] (input, sample, truth) as one PNG.
* ``append_metrics`` / ``truncate_metrics``: the rows of ``metrics.csv`` (a resumed run first
  drops the rows past its checkpoint, then rewrites them); ``training_seconds``: the wall-clock
  seconds of training they record, summed over the resumes.
* ``data_summary``: what a run trains and validates on, in a few numbers (log and checkpoints).
* ``Every``: true once every ``minutes`` of wall-clock time (time-based checkpoints, which bound
  the work a disconnect can cost independently of the speed of the machine).
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

import torch

__all__ = ["RunLog", "save_grid", "Every", "append_metrics", "truncate_metrics", "training_seconds",
           "data_summary"]


class RunLog:
    """Appends ``[YYYY-mm-dd HH:MM:SS] message`` lines to ``path`` (nothing when disabled)."""

    def __init__(self, path, enabled: bool = True):
        self.path, self.enabled = Path(path), enabled

    def __call__(self, message: str) -> None:
        if not self.enabled:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as f:
            f.write(f"[{time.strftime('%Y-%m-%d %H:%M:%S')}] {message}\n")


def save_grid(path, rows, pad: int = 2) -> Path:
    """Save ``rows`` (tensors ``[n, 3, H, W]`` in [-1, 1], equal shapes) as one PNG grid: one row
    of the figure per tensor."""
    from torchvision.utils import save_image

    if not rows or any(r.shape != rows[0].shape or r.dim() != 4 for r in rows):
        raise ValueError("rows must be tensors [n, 3, H, W] of one shape")
    n = rows[0].shape[0]
    grid = torch.cat([r.detach().float().cpu() for r in rows])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image((grid.clamp(-1, 1) + 1) / 2, path, nrow=n, padding=pad, pad_value=1.0)
    return path


class Every:
    """``due()`` is True once ``minutes`` of wall-clock time have passed since the last ``reset``
    (never for ``minutes = 0``)."""

    def __init__(self, minutes: float):
        if not minutes >= 0:
            raise ValueError(f"minutes must be >= 0, got {minutes!r}")
        self.seconds = 60.0 * minutes
        self.reset()

    def reset(self) -> None:
        self.last = time.monotonic()

    def due(self) -> bool:
        return self.seconds > 0 and time.monotonic() - self.last >= self.seconds


def append_metrics(path, row: dict, fields) -> None:
    """Append ``row`` to the CSV file ``path`` (header ``fields`` when new); floats to 6 digits."""
    path = Path(path)
    new = not path.exists()
    with open(path, "a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        if new:
            w.writeheader()
        w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})


def truncate_metrics(path, step: int, fields) -> float:
    """Drop the rows of ``path`` logged after ``step`` (a resumed run rewrites them); returns the
    training seconds that the rows kept record (``training_seconds``), where a resume's clock
    goes on. The rows kept are written on one clock: the segments of an older log whose clock
    restarted at a resume are shifted to go on from the previous segment's end, so that the rows
    the resumed run appends continue them."""
    path = Path(path)
    if not path.exists():
        return 0.0
    with open(path, newline="") as f:
        rows = _one_clock([r for r in csv.DictReader(f) if int(r["step"]) <= step])
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
    return _summed_clock(rows)


def training_seconds(path) -> float:
    """The wall-clock seconds of training that ``metrics.csv`` at ``path`` records up to its last
    row (0.0 when there is no file or no row).

    Its ``seconds`` column counts from the start of the run and goes on across resumes; a run
    written before that restarted it at 0 on every resume, so a row whose ``seconds`` is below the
    previous row's begins a new segment and the segments' last values are summed. Time between a
    run's last checkpoint and an interruption is not counted: the resume redoes that work."""
    path = Path(path)
    if not path.exists():
        return 0.0
    with open(path, newline="") as f:
        return _summed_clock(list(csv.DictReader(f)))


def _on_one_clock(rows):
    """``(row, seconds, shifted)`` for the rows (dicts) that have ``seconds``, each clock restart (a value
    below the previous row's: a resume of an older run) shifted to go on where the previous
    segment ended."""
    done, prev = 0.0, 0.0
    for r in rows:
        if r.get("seconds") not in (None, ""):
            v = float(r["seconds"])
            if v < prev:
                done += prev
            prev = v
            yield r, done + v, done > 0


def _one_clock(rows) -> list:
    """``rows`` with their ``seconds`` on one clock (``_on_one_clock``); rows without are kept."""
    shifted = {id(r): f"{v:.6g}" for r, v, moved in _on_one_clock(rows) if moved}
    return [dict(r, seconds=shifted[id(r)]) if id(r) in shifted else r for r in rows]


def _summed_clock(rows) -> float:
    """``training_seconds`` of metrics rows (dicts): the last value on one clock."""
    values = [v for _, v, _ in _on_one_clock(rows)]
    return values[-1] if values else 0.0


def data_summary(data: str, split: dict | None, train, val) -> dict:
    """``{"source", "train", "val", "skipped"}``: image counts of the run's split (``split`` None:
    a registered dataset, validated on the fixed synthetic split) and the images skipped, when the
    folder was scanned and while training (``SplitImages.bad``)."""
    if split is None:
        return {"source": data, "train": len(train), "val": "fixed synthetic split"}
    skipped = {k: len(v) for k, v in split.get("skipped", {}).items()}
    skipped["unreadable_in_run"] = len(getattr(train, "bad", ())) + len(getattr(val, "bad", ()))
    return {"source": split["source"], "train": len(split["train"]), "val": len(split["val"]),
            "skipped": skipped}
