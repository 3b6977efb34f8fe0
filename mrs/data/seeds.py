"""Seeds for reproducible data: one well-mixed seed per (stream, item).

Every random draw of the data layer and of training comes from a ``torch.Generator`` seeded by
``stream_seed(seed + stream, i)``: face ``i`` of a face stream, the masks of training step ``i``,
the data order of epoch ``i``. The named offsets below keep the streams of one run apart (the same
values since the first release, so shipped checkpoints and stored notebook numbers reproduce).
"""

from __future__ import annotations

__all__ = ["stream_seed", "epoch_order", "step_items", "TRAIN_MASKS", "EPOCH_ORDER", "PAIR_MASKS"]

TRAIN_MASKS = 31     # the masks of training step s: stream_seed(seed + TRAIN_MASKS, s)
EPOCH_ORDER = 17     # the data order of epoch e: stream_seed(seed + EPOCH_ORDER, e)
PAIR_MASKS = 7919    # the mask of item i of MaskedPairs: stream_seed(mask_seed + PAIR_MASKS, i)


def stream_seed(seed: int, i: int) -> int:
    """A well-mixed 62-bit seed for item ``i`` of stream ``seed`` (a SplitMix64-style hash)."""
    h = (seed * 0x9E3779B97F4A7C15 + i * 0xBF58476D1CE4E5B9 + 0x94D049BB133111EB) % (1 << 64)
    h ^= h >> 31
    return (h * 0xD6E8FEB86659FD93 % (1 << 64)) >> 2


def epoch_order(n: int, epoch: int, seed: int):
    """The order of ``n`` training items in epoch ``epoch`` of a run seeded ``seed`` (a permutation)."""
    import torch

    return torch.randperm(n, generator=torch.Generator().manual_seed(stream_seed(seed + EPOCH_ORDER, epoch)))


def step_items(n: int, batch_size: int, seed: int, slot: int) -> list:
    """The indices of the ``batch_size`` training items of batch ``slot`` (``step * world + rank``)
    among ``n``: consecutive positions of the epoch order of a run seeded ``seed`` (a pool of
    10**6 items or more is read in order)."""
    base = slot * batch_size
    order = epoch_order(n, base // n, seed) if n < 10**6 else None
    pos = [(base + k) % n for k in range(batch_size)]
    return pos if order is None else [int(order[p]) for p in pos]
