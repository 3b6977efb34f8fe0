"""The interactive apps of the notebooks (``mrs.widgets``).

* ``sampler_app()`` (notebook 09): pick a process, a schedule, the sampler's eta and a denoiser,
  watch the reverse chain; a compare mode shows two settings side by side. Its pure parts:
  ``SamplerSettings``, ``run_sampler(settings)`` and ``render(settings) -> Figure``.
* ``figure_app(draw, controls)``: the same frame around any drawing function (notebooks 01, 06):
  a fixed-size picture, messages above it, disabled controls with their reason, tooltips, reset.
* ``inpaint_app()``: inpaint your own picture (upload an image, and a mask or a box) with a
  shipped network, the pipeline of ``python -m mrs inpaint``.

Masks: 1 = hole. Every app redraws when a control changes, in a browser and headless alike.
"""

from __future__ import annotations

from .appkit import FigureApp, checkbox, dropdown, figure_png, notice_html, slider
from .inpaint_app import InpaintApp, inpaint_app
from .sampler_app import TOOLTIPS, SamplerApp, sampler_app, sampler_rules
from .sampler_core import (
    SHIPPED_OPTIONS,
    SamplerRun,
    SamplerSettings,
    denoiser_choices,
    eta_applies,
    face_size,
    outside_training,
    run_sampler,
)
from .sampler_figure import FIGSIZE, compare_figure, render, run_scores, runs_figure, sampler_figure

__all__ = ["SamplerSettings", "SamplerRun", "run_sampler", "render", "sampler_figure",
           "compare_figure", "runs_figure", "run_scores", "outside_training", "denoiser_choices",
           "eta_applies", "face_size",
           "sampler_app", "SamplerApp", "sampler_rules", "TOOLTIPS", "SHIPPED_OPTIONS", "FIGSIZE",
           "FigureApp", "figure_app", "slider", "dropdown", "checkbox", "figure_png", "notice_html",
           "inpaint_app", "InpaintApp"]


def figure_app(draw, controls: dict, *, rows=None, rules=None, title: str = "interactive figure",
               dpi: int = 100) -> FigureApp:
    """A ``FigureApp`` around ``draw(**values) -> Figure`` (keyword arguments: the control names).

    ``controls``: name -> control (``slider``, ``dropdown``, ``checkbox``); their current values
    are the defaults the reset button returns to. ``rules(values) -> {name: reason}`` disables
    controls that do nothing for the given values. A ``ValueError`` raised by ``draw`` is shown
    above the picture. Display the returned app as the last line of a cell."""
    if not callable(draw):
        raise ValueError("draw must be callable as draw(**values) -> matplotlib Figure")
    if not controls:
        raise ValueError("controls must name at least one control")
    return FigureApp(lambda values: draw(**values), controls, rows=rows, rules=rules, title=title,
                     dpi=dpi)
