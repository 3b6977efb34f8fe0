"""The interactive sampler (mrs.widgets): runs, figures, and the app as a student meets it."""

import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import mrs  # noqa: E402
from mrs.ui.appkit import get_tooltip  # noqa: E402
from mrs.ui.sampler_core import _faces  # noqa: E402
from mrs.ui.widgets import (  # noqa: E402
    FIGSIZE,
    SamplerSettings,
    denoiser_choices,
    render,
    run_sampler,
    sampler_app,
    sampler_rules,
)

pytest.importorskip("ipywidgets")


pytestmark = pytest.mark.usefixtures("one_thread")   # tests/conftest.py


@pytest.fixture(scope="module")
def app():
    """One app for the module; every test leaves it at its defaults."""
    a = sampler_app()
    yield a
    a.close()


def _size(png: bytes):
    from PIL import Image

    return Image.open(io.BytesIO(png)).size


@pytest.mark.parametrize("denoiser", ["checkpoint", "oracle"])
@pytest.mark.parametrize("process", mrs.process_names())
def test_render_returns_a_figure_of_fixed_size(process, denoiser):
    fig = render(SamplerSettings(process=process, denoiser=denoiser))
    try:
        assert isinstance(fig, matplotlib.figure.Figure)
        assert tuple(fig.get_size_inches()) == FIGSIZE
    finally:
        plt.close(fig)


def test_a_net_inside_its_training_runs_as_shipped():
    run = run_sampler(SamplerSettings())
    assert run.notes == [] and run.denoiser_used == "net 'pixel32/emmd_smooth'"
    pipe = mrs.load_pretrained("pixel32/emmd_smooth")
    x0, mask, y = (z[:1] for z in _faces("box"))
    ref = mrs.sample(pipe.process, pipe.denoiser(), y, mask, generator=torch.Generator().manual_seed(0))
    assert torch.equal(run.result, ref)


@pytest.mark.parametrize("change", [dict(kappa=1.0), dict(T=7), dict(blur_width=3.0),
                                    dict(denoiser="pixel32/emmd_smooth_noisemap", kappa=3.0, T=6)])
def test_a_net_off_its_schedule_is_labelled_and_never_swapped_for_the_oracle(change):
    s = SamplerSettings().with_values(**change)
    run = run_sampler(s)
    assert run.denoiser_used.startswith("net ") and "outside training" in run.denoiser_used
    assert run.notes and run.notes[0].startswith("Outside training")
    oracle = run_sampler(s.with_values(denoiser="oracle"))
    assert not torch.equal(run.result, oracle.result)
    key = next(iter(change)) if "denoiser" not in change else "kappa"
    assert f"{key}={change[key]:g}" in run.notes[0]


def test_the_dropdown_offers_every_shipped_net_of_the_process_then_the_oracle():
    values = [v for _, v in denoiser_choices("emmd_smooth")]
    assert values == ["pixel32/emmd_smooth", "pixel32/emmd_smooth_noisemap", "oracle"]
    assert [v for _, v in denoiser_choices("resshift")] == ["pixel32/resshift", "oracle"]


def test_runs_are_seeded_and_eta_changes_the_run():
    a, b = run_sampler(SamplerSettings(seed=3)), run_sampler(SamplerSettings(seed=3))
    assert torch.equal(a.result, b.result)
    c = run_sampler(SamplerSettings(seed=3, eta=0.0))
    assert not torch.equal(a.result, c.result) and c.notes == []


@pytest.mark.parametrize("bad", [dict(T=0), dict(eta=1.5), dict(denoiser="resshift"),
                                 dict(denoiser="nope"), dict(process="mvd", eta=0.5)])
def test_bad_settings_raise_value_error(bad):
    with pytest.raises(ValueError):
        render(SamplerSettings().with_values(**bad))


def test_the_app_starts_at_the_documented_defaults(app):
    d = {**SamplerSettings().control_values(), "denoiser": "pixel32/emmd_smooth", "compare": False}
    assert app.values() == {k: v for k, v in d.items() if k in app.controls}
    assert app.defaults == app.values()
    assert all(getattr(w, "continuous_update", False) is False
               for w in app.controls.values() if hasattr(w, "continuous_update"))
    assert all(get_tooltip(app.controls[k]) for k in app.controls if not app.controls[k].disabled)
    assert app.controls["eta"].description == "η (sampler)"
    assert "pixel32/emmd_smooth_noisemap" in [v for _, v in app.controls["denoiser"].options]
    assert _size(app.png) == (FIGSIZE[0] * app.dpi, FIGSIZE[1] * app.dpi)


def _other(w):
    """A valid value of control ``w`` other than its current one."""
    if hasattr(w, "options"):
        values = [o[1] if isinstance(o, tuple) else o for o in w.options]
        return next(v for v in values if v != w.value)
    if isinstance(w.value, bool):
        return not w.value
    step = w.step
    return w.value + step if w.value + step <= w.max else w.value - step


def test_every_enabled_control_changes_the_picture_and_reset_restores_it(app):
    first = app.png
    enabled = [k for k, w in app.controls.items() if not w.disabled]
    assert set(enabled) == set(app.controls) - {"leak"}
    for name in enabled:
        before = app.png
        app.controls[name].value = _other(app.controls[name])
        assert app.error is None, (name, app.error)
        assert app.png != before, f"{name} did not change the picture"
        assert _size(app.png) == _size(first)
        app.reset()
        assert app.values() == app.defaults and app.png == first, name
    app.controls["kappa"].value = 1.0
    app.reset_button.click()
    assert app.values() == app.defaults and app.png == first


@pytest.mark.parametrize("values, disabled", [
    (dict(process="resshift"), {"blur_width", "noise_floor", "leak"}),
    (dict(process="mvd"), {"noise_floor", "eta", "leak"}),
    (dict(denoiser="oracle"), set()),
    (dict(T=2), {"power", "leak"}),
    (dict(T=1), {"power", "min_noise_level", "leak"}),
])
def test_controls_that_do_nothing_are_disabled_with_a_reason(app, values, disabled):
    app.set(**values)
    try:
        off = {k for k, w in app.controls.items() if w.disabled}
        assert off == disabled
        for k in off:
            assert get_tooltip(app.controls[k]).startswith("inactive: ")
            assert app.controls[k].description in app.inactive.value
        assert set(sampler_rules(app.values())) == disabled
    finally:
        app.reset()


def test_a_process_without_a_shipped_net_offers_only_the_oracle(app):
    shipped = mrs.list_pretrained() + mrs.list_pretrained("pixel32")
    nets = {mrs.load_pretrained(n).process.name for n in shipped if not mrs.load_pretrained(n).latent}
    other = next((p for p in mrs.process_names() if p not in nets), None)
    if other is None:
        pytest.skip("every registered process has a shipped net")
    app.controls["process"].value = other
    try:
        assert app.controls["denoiser"].value == "oracle" and app.controls["denoiser"].disabled
        assert "oracle" in app.notice.value
    finally:
        app.reset()


def test_errors_show_above_the_picture_which_keeps_its_size_and_are_reachable(app):
    c = app.controls
    c["min_noise_level"].value = 0.3      # the documented example: min_noise_level above etas_end
    before = app.png
    c["etas_end"].value = c["etas_end"].min
    try:
        assert app.error and "etas_end" in app.error
        assert "ValueError" in app.notice.value and "#c5221f" in app.notice.value
        assert app.png == before             # the picture keeps the last valid settings
    finally:
        app.reset()
    assert app.error is None and "ValueError" not in app.notice.value


def test_outside_training_is_a_note_above_the_picture(app):
    app.controls["kappa"].value = 1.0
    try:
        assert "Outside training" in app.notice.value and "#e37400" in app.notice.value
    finally:
        app.reset()
    assert "Outside training" not in app.notice.value


def test_compare_mode_pins_a_and_the_controls_move_b(app):
    app.controls["compare"].value = True
    try:
        assert app.pinned == app.settings() and not app.pin_button.disabled
        app.controls["kappa"].value = 1.0
        assert app.pinned.schedule.kappa == 2.0 and app.settings().schedule.kappa == 1.0
        assert "B: Outside training" in app.notice.value
        app.pin_button.click()
        assert app.pinned.schedule.kappa == 1.0
    finally:
        app.reset()
    assert app.pinned is None and app.pin_button.disabled


def test_the_saved_cell_shows_a_picture_where_widgets_cannot_run(app):
    bundle = app._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["image/png"] and not bundle["text/plain"].startswith("VBox")
