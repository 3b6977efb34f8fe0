"""The frame every interactive app of the notebooks shares (``FigureApp``).

An app is a pure drawing function ``draw(values) -> Figure`` (``values``: control name -> value)
behind ipywidgets controls. The frame adds what a reader needs around it:

* one fixed-size picture (an ``ipywidgets.Image`` holding the figure as a PNG at ``dpi``), so the
  page does not jump when the figure is redrawn;
* a message line above the picture: notes of the drawing function, or the library's
  ``ValueError`` as a red box (the picture then keeps the last valid settings);
* controls that do nothing for the current settings disabled, each with a one-line reason
  (``rules(values) -> {name: reason}``), shown under the controls and as the control's tooltip;
* a tooltip per control, a reset button, and the redraw times (``app.timings``).

Headless (tests, ``nbconvert``), setting ``app.controls[name].value`` redraws synchronously.
"""

from __future__ import annotations

import base64
import html
import io
import time
from contextlib import contextmanager

__all__ = ["FigureApp", "slider", "dropdown", "checkbox", "set_tooltip", "get_tooltip", "figure_png",
           "notice_html"]

STYLE = {"description_width": "112px"}
WIDTH = "330px"
_BOX = "padding:4px 8px;margin:2px 0;border-radius:3px;line-height:1.35"
_KINDS = {"error": "background:#fdecea;border-left:4px solid #c5221f;color:#5f1410",
          "note": "background:#fff4e0;border-left:4px solid #e37400;color:#4d2c00",
          "status": "color:#555"}


def _layout(width=WIDTH):
    import ipywidgets as widgets

    return widgets.Layout(width=width)


def slider(label: str, value, lo, hi, step, tooltip: str, fmt: str | None = None):
    """A slider that acts on release (``continuous_update=False``): an ``IntSlider`` when value,
    bounds and step are ints, a ``FloatSlider`` otherwise (``fmt`` its readout format)."""
    import ipywidgets as widgets

    common = dict(value=value, min=lo, max=hi, step=step, description=label,
                  continuous_update=False, style=STYLE, layout=_layout())
    if all(isinstance(v, int) and not isinstance(v, bool) for v in (value, lo, hi, step)):
        return set_tooltip(widgets.IntSlider(**common), tooltip)
    return set_tooltip(widgets.FloatSlider(readout_format=fmt or ".2f", **common), tooltip)


def dropdown(label: str, value, options, tooltip: str):
    """A dropdown; ``options`` are values or ``(label, value)`` pairs."""
    import ipywidgets as widgets

    return set_tooltip(widgets.Dropdown(options=list(options), value=value, description=label,
                                        style=STYLE, layout=_layout()), tooltip)


def checkbox(label: str, value: bool, tooltip: str):
    import ipywidgets as widgets

    return set_tooltip(widgets.Checkbox(value=value, description=label, indent=False,
                                        layout=_layout("180px")), tooltip)


def set_tooltip(w, text: str):
    """Sets ``w``'s tooltip: ``tooltip`` in ipywidgets 8, ``description_tooltip`` in 7 (the
    version Colab may ship). Returns ``w``."""
    name = "tooltip" if w.has_trait("tooltip") else "description_tooltip"
    if w.has_trait(name):
        setattr(w, name, text)
    return w


def get_tooltip(w) -> str:
    for name in ("tooltip", "description_tooltip"):
        if w.has_trait(name):
            return getattr(w, name) or ""
    return ""


def figure_png(fig, dpi: int = 100) -> bytes:
    """The figure as PNG bytes at ``dpi`` (its size in pixels is ``figsize * dpi``); closes it."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=dpi, pil_kwargs={"compress_level": 6})
    finally:
        plt.close(fig)
    return buf.getvalue()


def notice_html(kind: str, lines) -> str:
    """Lines as one styled box: ``kind`` is ``error`` (red), ``note`` (amber) or ``status`` (grey)."""
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {tuple(_KINDS)}, got {kind!r}")
    body = "<br>".join(html.escape(str(line)) for line in lines if line)
    return f'<div style="{_BOX};{_KINDS[kind]}">{body}</div>' if body else ""


class FigureApp:
    """A drawing function behind controls (module docstring).

    Args:
        draw: ``draw(values) -> Figure``, ``(Figure, notes)`` or ``(Figure, notes, status)``:
            ``notes`` (strings) are shown in the message line (amber), else ``status`` (grey). A
            ``ValueError`` is shown there instead (red).
        controls: name -> ipywidgets control (``slider``, ``dropdown``, ``checkbox``); the names
            are the keys of ``values``. Their values now are the defaults ``reset`` returns to.
        rows: the layout, a list of rows of control names (default: three per row).
        rules: ``rules(values) -> {name: one-line reason}``: controls to disable.
        on_change: ``on_change(app, name)``, run (redraws held) before the redraw that a change of
            control ``name`` causes, e.g. to update another control's options.
        buttons: extra ``ipywidgets.Button``s shown beside the reset button.
        title: what a reader sees in place of the app where widgets cannot be shown.
        dpi: pixels per inch of the picture.
    """

    def __init__(self, draw, controls: dict, *, rows=None, rules=None, on_change=None,
                 buttons=(), title: str = "interactive figure", dpi: int = 100):
        import ipywidgets as widgets

        self.draw, self.controls, self.rules, self.on_change = draw, dict(controls), rules, on_change
        self.title, self.dpi = title, int(dpi)
        self.defaults = self.values()
        self.tooltips = {k: get_tooltip(w) for k, w in self.controls.items()}
        self.timings: list[float] = []
        self.error: str | None = None
        self.png = b""
        self._hold, self._dirty = 0, False
        self.reset_button = set_tooltip(widgets.Button(description="reset", icon="undo",
                                                       layout=_layout("110px")),
                                        "back to the defaults the text describes")
        self.reset_button.on_click(lambda _b: self.reset())
        self.buttons = [self.reset_button, *buttons]
        self.inactive = widgets.HTML()
        self.notice = widgets.HTML(layout=widgets.Layout(min_height="2.2em"))
        self.image = widgets.Image(format="png", layout=widgets.Layout(width="100%", height="auto"))
        names = list(self.controls)
        rows = rows or [names[i:i + 3] for i in range(0, len(names), 3)]
        lines = [widgets.HBox([self.controls[n] for n in row]) for row in rows]
        self.box = widgets.VBox([*lines, widgets.HBox(self.buttons), self.inactive, self.notice,
                                 self.image])
        for name, w in self.controls.items():
            w.observe(lambda change, name=name: self._changed(name), names="value")
        self.update()
        self.image.layout.max_width = f"{self._png_width()}px"

    # -- state -----------------------------------------------------------------------------
    def values(self) -> dict:
        """The value of every control: name -> value."""
        return {k: w.value for k, w in self.controls.items()}

    @contextmanager
    def hold(self):
        """Changes inside redraw once, at the end."""
        self._hold += 1
        try:
            yield self
        finally:
            self._hold -= 1
            if self._hold == 0 and self._dirty:
                self.update()

    def set(self, **values):
        """Set several controls at once (one redraw)."""
        unknown = set(values) - set(self.controls)
        if unknown:
            raise ValueError(f"unknown controls {sorted(unknown)}; the app has {list(self.controls)}")
        with self.hold():
            for k, v in values.items():
                w = self.controls[k]
                if w.traits()["value"].read_only:   # ipywidgets 7's FileUpload
                    w.set_trait("value", v)
                else:
                    w.value = v
            self._dirty = True

    def reset(self):
        """Every control back to its default (one redraw)."""
        self.set(**self.defaults)

    def _changed(self, name: str):
        if self.on_change is not None:  # also while held: set() relies on it (options first)
            with self.hold():
                self.on_change(self, name)
                self._dirty = True
        elif self._hold:
            self._dirty = True
        else:
            self.update()

    # -- drawing ---------------------------------------------------------------------------
    def _apply_rules(self, values) -> None:
        reasons = self.rules(values) if self.rules else {}
        for name, w in self.controls.items():
            w.disabled = name in reasons
            set_tooltip(w, f"inactive: {reasons[name]}" if name in reasons else self.tooltips[name])
        by_reason: dict[str, list] = {}
        for name, why in reasons.items():
            by_reason.setdefault(why, []).append(self.controls[name].description or name)
        self.inactive.value = "".join(
            f'<div style="color:#666;font-size:90%">inactive: <b>{html.escape(", ".join(ws))}</b> '
            f"({html.escape(why)})</div>" for why, ws in by_reason.items())

    def update(self):
        """Redraw now with the controls' values."""
        self._dirty = False
        values = self.values()
        self._apply_rules(values)
        start = time.perf_counter()
        try:
            out = self.draw(values)
        except ValueError as err:
            self.error = str(err).splitlines()[0]
            kept = " The picture still shows the last valid settings." if self.png else ""
            self.notice.value = notice_html("error", [f"ValueError: {self.error}{kept}"])
            return
        fig, notes, status = (*out, None)[:3] if isinstance(out, tuple) else (out, [], None)
        self.error = None
        self.png = figure_png(fig, self.dpi)
        self.image.value = self.png
        self.notice.value = notice_html("note", notes) if notes else notice_html("status", [status])
        self.timings.append(time.perf_counter() - start)

    def _png_width(self) -> int:
        from PIL import Image

        return Image.open(io.BytesIO(self.png)).size[0] if self.png else 1200

    # -- display ---------------------------------------------------------------------------
    def close(self):
        """Close every widget of the app (for a throw-away second instance)."""
        for w in [*self.box.children, *self.controls.values(), *self.buttons, self.box]:
            w.close()

    def _repr_mimebundle_(self, **kwargs):
        """The widget, plus a PNG of the picture and a sentence for where widgets cannot run
        (a notebook opened before its kernel runs, a static renderer)."""
        if hasattr(self.box, "_repr_mimebundle_"):
            bundle = self.box._repr_mimebundle_(**kwargs)
        else:  # ipywidgets 7 displays through _ipython_display_; the same view, by hand
            bundle = {"application/vnd.jupyter.widget-view+json": {
                "version_major": 2, "version_minor": 0, "model_id": self.box.model_id}}
        bundle["text/plain"] = (f"[{self.title}: run the notebook to use the controls; "
                                "the picture shows its defaults]")
        if self.png:
            bundle["image/png"] = base64.b64encode(self.png).decode("ascii")
        return bundle
