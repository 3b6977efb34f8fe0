"""The interactive sampler of notebook 09 (``sampler_app``): every knob of a sampling run behind
a control, a compare mode (a pinned setting A beside the controls' setting B, same face, mask and
noise) and the rules that disable the controls a setting does not use."""

from __future__ import annotations

from ..core import option_defaults, process_names
from ..core.masks import MASK_KINDS
from .appkit import FigureApp, checkbox, dropdown, set_tooltip, slider
from .sampler_core import N_FACES, SamplerSettings, denoiser_choices, eta_applies, run_sampler
from .sampler_figure import compare_figure, sampler_figure

__all__ = ["SamplerApp", "sampler_app", "sampler_rules", "TOOLTIPS"]

TOOLTIPS = {
    "process": "the forward process: how each pixel is noised (its rate ρ)",
    "denoiser": "a shipped network trained for this process, or the leaky oracle (knows x0)",
    "mask_kind": "the family of holes drawn on the validation faces",
    "kappa": "noise scale κ: Var[x_t | x0] = κ²ρη_t",
    "T": "number of diffusion steps",
    "eta": "the sampler's η: 1 = the exact posterior, 0 = deterministic (not the schedule's η_t)",
    "power": "warps the step positions of the schedule η_t (< 1: early steps grow fast)",
    "min_noise_level": "first noise level: √η_1 = min(min_noise_level/κ, min_noise_level)",
    "etas_end": "last noise level: √η_T = etas_end",
    "blur_width": "width w of the smooth band of the rate around the hole (pixels)",
    "noise_floor": "minimal rate ρ_min on every known pixel",
    "leak": "fraction of the noise the leaky oracle keeps in its x0 prediction",
    "seed": "seeds x_T and every step's noise",
    "face": "which of the eight validation faces",
    "compare": "show a pinned setting A beside the controls' setting B (same face, mask, noise)",
}
LABELS = {"eta": "η (sampler)", "compare": "compare A | B"}
ROWS = [("process", "denoiser", "mask_kind"), ("kappa", "T", "eta"),
        ("power", "min_noise_level", "etas_end"), ("blur_width", "noise_floor", "leak"),
        ("seed", "face", "compare")]


def _controls(v: dict) -> dict:
    def sl(name, lo, hi, step, fmt=None):
        return slider(LABELS.get(name, name), v[name], lo, hi, step, TOOLTIPS[name], fmt)

    def dd(name, options, value=None):
        return dropdown(name, v[name] if value is None else value, options, TOOLTIPS[name])

    choices = denoiser_choices(v["process"])
    den = v["denoiser"] if v["denoiser"] in [c for _, c in choices] else choices[0][1]
    return {
        "process": dd("process", list(process_names())),
        "denoiser": dd("denoiser", choices, den),
        "mask_kind": dd("mask_kind", list(MASK_KINDS) + ["mixed"]),
        "kappa": sl("kappa", 0.25, 4.0, 0.25), "T": sl("T", 1, 10, 1), "eta": sl("eta", 0.0, 1.0, 0.1),
        "power": sl("power", 0.1, 2.0, 0.1), "min_noise_level": sl("min_noise_level", 0.01, 0.5, 0.01),
        "etas_end": sl("etas_end", 0.1, 0.999, 0.001, ".3f"),
        "blur_width": sl("blur_width", 0.0, 6.0, 0.5), "noise_floor": sl("noise_floor", 0.0, 0.2, 0.01),
        "leak": sl("leak", 0.0, 1.0, 0.05), "seed": sl("seed", 0, 99, 1),
        "face": sl("face", 0, N_FACES - 1, 1),
        "compare": checkbox(LABELS["compare"], bool(v.get("compare", False)), TOOLTIPS["compare"]),
    }


def sampler_rules(values: dict) -> dict:
    """The controls that do nothing for these values: ``{name: one-line reason}``."""
    process, reasons = values["process"], {}
    takes = option_defaults(process)
    for opt in ("blur_width", "noise_floor"):
        if opt not in takes:
            reasons[opt] = f"process '{process}' has no {opt} option"
    if values["denoiser"] != "oracle":
        reasons["leak"] = "only the oracle leaks; a net makes its own errors"
    if denoiser_choices(process) == [("oracle (leaky)", "oracle")]:
        reasons["denoiser"] = f"no shipped net for process '{process}': only the oracle"
    if not eta_applies(process):
        reasons["eta"] = f"'{process}' takes only η = 1 (its reverse step is not in the DDIM family)"
    if values["T"] <= 2:
        reasons["power"] = "T ≤ 2: no intermediate step for power to warp"
    if values["T"] == 1:
        reasons["min_noise_level"] = "T = 1: the single step is η_1 = etas_end²"
    return reasons


def _settings(values: dict) -> SamplerSettings:
    """The run's settings from the controls (disabled controls count at their neutral value)."""
    v = {k: x for k, x in values.items() if k != "compare"}
    if not eta_applies(v["process"]):
        v["eta"] = 1.0
    return SamplerSettings().with_values(**v)


class SamplerApp(FigureApp):
    """The sampler app (``sampler_app``); ``pinned`` holds setting A of the compare mode."""

    def __init__(self, initial: SamplerSettings):
        import ipywidgets as widgets

        self.pinned = None
        self.pin_button = set_tooltip(
            widgets.Button(description="pin B as A", icon="thumb-tack", disabled=True,
                           layout=widgets.Layout(width="130px")),
            "compare mode: make the current setting the pinned A")
        self.pin_button.on_click(lambda _b: self.pin())
        values = {**initial.control_values(), "compare": False}
        super().__init__(self._draw, _controls(values), rows=ROWS, rules=sampler_rules,
                         on_change=_on_change, buttons=(self.pin_button,),
                         title="interactive sampler (mrs.widgets.sampler_app)")

    def settings(self) -> SamplerSettings:
        """The controls' current setting (B in compare mode)."""
        return _settings(self.values())

    def pin(self):
        """Pin the controls' current setting as A (compare mode) and redraw."""
        self.pinned = self.settings()
        self.update()

    def reset(self):
        self.pinned = None
        super().reset()

    def _draw(self, values: dict):
        b = _settings(values)
        run_b = run_sampler(b)
        if not values["compare"]:
            return sampler_figure(run_b), run_b.notes, f"denoiser: {run_b.denoiser_used}"
        a = (self.pinned or b).with_values(face=b.face, seed=b.seed, mask_kind=b.mask_kind)
        run_a = run_sampler(a)
        notes = [f"A: {n}" for n in run_a.notes] + [f"B: {n}" for n in run_b.notes]
        return compare_figure(run_a, run_b), notes, "compare: A is pinned; the controls set B"


def _on_change(app: SamplerApp, name: str) -> None:
    """Keep the denoiser's choices in step with the process; pin A when compare is switched on."""
    c = app.controls
    if name == "process":
        choices = denoiser_choices(c["process"].value)
        keep = c["denoiser"].value == "oracle"
        c["denoiser"].options = choices
        c["denoiser"].value = "oracle" if keep else choices[0][1]
    if name == "compare":
        app.pinned = app.settings() if c["compare"].value else None
    app.pin_button.disabled = not c["compare"].value


def sampler_app(**initial) -> SamplerApp:
    """The interactive sampler (notebook 09), a ``SamplerApp``: display it as the last line of a
    cell. ``initial``: control values that differ from ``SamplerSettings()``'s defaults, e.g.
    ``sampler_app(process="emmd", denoiser="oracle", kappa=1.0)``. Changing a control redraws;
    ``app.controls[name].value = v`` does too (headless as well)."""
    return SamplerApp(SamplerSettings().with_values(**initial))
