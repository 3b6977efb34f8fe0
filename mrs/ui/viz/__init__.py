"""Plotting helpers used by the notebooks. Each returns a matplotlib ``Figure`` (never prints).

Images are tensors in [-1, 1] (``[C, H, W]`` or ``[1, C, H, W]``); maps (masks, rates,
variances) are ``[H, W]``, ``[1, H, W]`` or ``[1, 1, H, W]``.

Submodules by topic: ``images`` (image and map grids, edge profiles), ``schedule`` (the schedule,
the forward marginal, the posterior coefficients, a sampling trajectory), ``profiles`` (line
profiles, annotated heat maps, parameter sweeps), ``network`` (the net's inputs, Swin windows,
parameter budget, receptive field, training logs), ``speed`` (RePaint's path, region-adaptive
sampling), ``mosaic`` (many small images in one axes, for the interactive apps). Everything is
re-exported here: ``mrs.viz.show_images`` etc.
"""

from ...data import to_numpy
from .images import (
    edge_profile,
    show_images,
    show_map_grid,
    show_maps,
    show_region_box,
    show_samples_and_errors,
)
from .mosaic import draw_mosaic, tile_rgb
from .network import (
    plot_net_inputs,
    plot_parameter_breakdown,
    plot_receptive_field,
    plot_shifted_windows,
    plot_training_logs,
)
from .profiles import plot_heatmaps, plot_profiles, plot_rate_profile_sample, plot_sweeps
from .schedule import (
    plot_posterior_coefficients,
    plot_schedule_forward,
    plot_schedules,
    plot_trajectory,
)
from .speed import plot_region_tradeoff, plot_repaint_path

__all__ = ["to_numpy", "show_images", "show_maps", "plot_trajectory", "plot_schedules",
           "edge_profile", "show_map_grid", "plot_profiles", "show_samples_and_errors",
           "plot_heatmaps", "plot_rate_profile_sample", "plot_schedule_forward",
           "plot_posterior_coefficients", "plot_sweeps", "plot_net_inputs",
           "plot_shifted_windows", "plot_parameter_breakdown", "plot_training_logs",
           "plot_repaint_path", "plot_receptive_field", "show_region_box", "plot_region_tradeoff",
           "draw_mosaic", "tile_rgb"]
