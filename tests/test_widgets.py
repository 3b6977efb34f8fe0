"""The interactive sampler (mrs.widgets): pure render, outside-training notes, headless app."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import mrs  # noqa: E402
from mrs.ui.widgets import SamplerSettings, render, run_sampler, sampler_app  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Batches of one 32x32 image: one thread is several times faster than contended threads."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("denoiser", ["checkpoint", "oracle"])
@pytest.mark.parametrize("process", mrs.process_names())
def test_render_returns_a_figure(process, denoiser):
    fig = render(SamplerSettings(process=process, denoiser=denoiser))
    try:
        assert isinstance(fig, matplotlib.figure.Figure)
        assert len(fig.axes) >= 3 * 5
    finally:
        plt.close(fig)


def test_checkpoint_used_inside_training_and_oracle_outside():
    inside = run_sampler(SamplerSettings())
    assert inside.notes == [] and inside.denoiser_used.startswith("checkpoint")
    outside = run_sampler(SamplerSettings().with_values(kappa=1.0))
    assert len(outside.notes) == 1 and "outside" in outside.notes[0] and "kappa=1" in outside.notes[0]
    assert outside.denoiser_used.startswith("oracle")
    # the note is drawn on the figure
    fig = render(SamplerSettings().with_values(kappa=1.0))
    try:
        assert any("outside" in t.get_text() for t in fig.texts)
    finally:
        plt.close(fig)


def test_runs_are_seeded():
    a, b = run_sampler(SamplerSettings(seed=3)), run_sampler(SamplerSettings(seed=3))
    assert (a.result == b.result).all()


def test_bad_settings_raise_value_error():
    with pytest.raises(ValueError):
        render(SamplerSettings().with_values(T=0))


def test_app_redraws_headless_and_shows_errors_as_text():
    app = sampler_app()
    assert all(getattr(w, "continuous_update", False) is False
               for w in app.controls.values() if hasattr(w, "continuous_update"))
    before = app.output.outputs
    assert len(before) == 1 and "image/png" in before[0]["data"]
    app.controls["kappa"].value = 1.0
    after = app.output.outputs
    assert len(after) == 1 and after[0]["data"]["image/png"] != before[0]["data"]["image/png"]
    app.controls["T"].min = 0
    app.controls["T"].value = 0          # no exception: a one-line message
    (msg,) = app.output.outputs
    assert msg["output_type"] == "stream" and msg["text"].startswith("ValueError")
    assert msg["text"].count("\n") == 1
