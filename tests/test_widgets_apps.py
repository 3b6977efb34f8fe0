"""The app frame (mrs.widgets.figure_app) and the picture app (mrs.widgets.inpaint_app)."""

import datetime

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from mrs.ui.appkit import get_tooltip  # noqa: E402
from mrs.ui.inpaint_app import box_hole, inpaint_app  # noqa: E402
from mrs.ui.widgets import figure_app, slider  # noqa: E402

pytest.importorskip("ipywidgets")


pytestmark = pytest.mark.usefixtures("one_thread")   # tests/conftest.py


def _draw(a=1.0, n=3):
    if a > 2.5:
        raise ValueError("a must stay at most 2.5")
    fig, ax = plt.subplots(figsize=(4, 2))
    ax.plot(np.arange(n), a * np.arange(n))
    ax.set_ylim(0, 30)
    return fig


def _app():
    return figure_app(_draw, {"a": slider("a", 1.0, 0.0, 3.0, 0.5, "slope"),
                              "n": slider("n", 3, 1, 10, 1, "points")},
                      rules=lambda v: {"a": "one point has no slope"} if v["n"] == 1 else {})


def test_figure_app_redraws_disables_reports_errors_and_resets():
    app = _app()
    first = app.png
    assert app.image.value == first and app.defaults == {"a": 1.0, "n": 3}
    app.controls["n"].value = 1
    assert app.png != first and app.controls["a"].disabled
    assert get_tooltip(app.controls["a"]) == "inactive: one point has no slope"
    assert "one point has no slope" in app.inactive.value
    app.set(n=5, a=3.0)                                   # one redraw, an error
    assert app.error == "a must stay at most 2.5" and "ValueError" in app.notice.value
    shown = app.png
    assert app.image.value == shown
    app.reset()
    assert app.values() == app.defaults and app.png == first and app.error is None
    assert not app.controls["a"].disabled and get_tooltip(app.controls["a"]) == "slope"
    with pytest.raises(ValueError, match="unknown controls"):
        app.set(b=1)
    app.close()


def test_figure_app_rejects_bad_arguments():
    with pytest.raises(ValueError, match="callable"):
        figure_app(None, {"a": slider("a", 1.0, 0.0, 3.0, 0.5, "slope")})
    with pytest.raises(ValueError, match="at least one"):
        figure_app(_draw, {})


def _upload(path):
    data = path.read_bytes()
    return ({"name": path.name, "type": "image/png", "size": len(data), "content": memoryview(data),
             "last_modified": datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)},)


def test_inpaint_app_runs_the_pipeline_of_the_command_line(tmp_path):
    from PIL import Image

    from mrs.ui.cli import main

    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (40, 56, 3), dtype=np.uint8)).save(tmp_path / "img.png")
    hole = np.zeros((40, 56), dtype=np.uint8)
    hole[10:25, 20:40] = 255
    Image.fromarray(hole).save(tmp_path / "mask.png")
    assert main(["inpaint", str(tmp_path / "img.png"), str(tmp_path / "mask.png"), "--checkpoint",
                 "emmd", "--seed", "3", "-o", str(tmp_path / "out.png")]) == 0
    cli = np.asarray(Image.open(tmp_path / "out.png"))

    app = inpaint_app()
    assert app.last is not None and not any(w.disabled for w in app.controls.values())  # face, box
    app.set(checkpoint="emmd", seed=3, image=_upload(tmp_path / "img.png"))
    assert app.last[0].size == (56, 40) and app.last[1].sum() > 0             # your image, the box
    app.controls["mask"].value = _upload(tmp_path / "mask.png")
    assert app.error is None and app.controls["top"].disabled
    assert np.array_equal(np.asarray(app.last[2]), cli)
    app.controls["image"].value = _upload(tmp_path / "mask.png")              # not an RGB picture: fine
    assert app.error is None
    app.reset()
    assert app.values()["mask"] == () and app.error is None and not app.controls["top"].disabled
    app.close()


def test_box_hole():
    hole = box_hole((50, 20), 0.25, 0.5, 0.5, 0.2)
    assert hole.shape == (20, 50) and hole.sum() == 10 * 10 and hole[5:15, 25:35].all()
    with pytest.raises(ValueError, match="fraction"):
        box_hole((50, 20), 1.5, 0.0, 0.1, 0.1)
    with pytest.raises(ValueError, match="outside"):
        box_hole((50, 20), 1.0, 0.0, 0.1, 0.1)
