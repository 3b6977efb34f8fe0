"""Driving one notebook of a live JupyterLab page through Playwright (used by test_jupyterlab.py).

Everything goes through the page: ``window.jupyterapp`` (the server runs with
``expose_app_in_browser``) for the kernel and Run All, and the widgets' DOM for the apps. An app
is the innermost ``.widget-vbox`` holding an ``img.widget-image`` and a control with a given label;
it is marked ``data-mrs-app=K`` and its controls ``data-mrs-ctl=K-I``.
"""

import time

_JS_KERNEL = """
() => window.jupyterapp?.shell?.currentWidget?.sessionContext?.session?.kernel ?? null
"""

# true once the notebook's kernel has been idle for `settle` ms without a break
_JS_IDLE_FOR = """
([name, settle]) => {
  const w = window.jupyterapp?.shell?.currentWidget;
  const k = w?.sessionContext?.session?.kernel;
  const now = performance.now();
  if (!w || !w.context?.path?.endsWith(name) || !k || k.status !== 'idle') {
    window.__mrsIdleSince = null;
    return false;
  }
  if (window.__mrsIdleSince == null) window.__mrsIdleSince = now;
  return now - window.__mrsIdleSince >= settle;
}
"""

_JS_RUN_ALL = """
async (ms) => {
  const run = window.jupyterapp.commands.execute('notebook:run-all-cells');
  const timeout = new Promise(r => setTimeout(() => r('timeout'), ms));
  return await Promise.race([run, timeout]);
}
"""

_JS_ERRORS = """
() => {
  const nb = window.jupyterapp.shell.currentWidget.content;
  const errs = [];
  for (const cell of nb.widgets) {
    if (cell.model.type !== 'code') continue;
    const outs = cell.model.outputs;
    for (let i = 0; i < outs.length; i++) {
      const o = outs.get(i).toJSON();
      if (o.output_type === 'error') errs.push(o.ename + ': ' + o.evalue);
    }
  }
  return errs;
}
"""

_JS_RAW_TEXT = """
() => [...document.querySelectorAll('.jp-Notebook .jp-OutputArea-output')]
  .map(o => o.innerText)
  .filter(t => /[VH]Box\\(children=|Error displaying widget|model not found/.test(t))
  .map(t => t.slice(0, 100))
"""

_JS_STATIC_PICTURE = """
(source) => {
  const nb = window.jupyterapp.shell.currentWidget.content;
  const cell = nb.widgets.find(c => c.model.type === 'code' &&
                                    c.model.sharedModel.getSource().includes(source));
  return !!cell?.node.querySelector('.jp-OutputArea-output img[src^="data:image/png"]');
}
"""

_JS_LABEL = """
const norm = s => (s || '').replace(/\\u00a0/g, ' ').replace(/\\s*\\(\\d+\\)\\s*$/, '').trim()
  .replace(/:\\s*$/, '').trim();
const labelOf = el => {
  if (el.matches('.widget-checkbox')) return norm(el.querySelector('.widget-label-basic')?.textContent);
  if (el.matches('button')) return norm(el.textContent);
  return norm(el.querySelector('.widget-label')?.textContent);
};
const kindOf = el => el.matches('.widget-slider') ? 'slider' : el.matches('.widget-dropdown') ? 'dropdown'
  : el.matches('.widget-checkbox') ? 'checkbox' : el.matches('.widget-upload') ? 'upload' : 'button';
const valueOf = el => {
  const k = kindOf(el);
  if (k === 'slider') return el.querySelector('.widget-readout')?.textContent?.trim() ?? '';
  if (k === 'dropdown') return norm(el.querySelector('select')?.selectedOptions[0]?.textContent);
  if (k === 'checkbox') return el.querySelector('input').checked ? 'on' : 'off';
  return '';
};
const disabledOf = el => {
  const k = kindOf(el);
  if (k === 'slider') return el.querySelector('.noUi-target')?.hasAttribute('disabled') ?? false;
  if (k === 'button' || k === 'upload') return el.disabled;
  return el.querySelector('select, input')?.disabled ?? false;
};
const CONTROLS = '.widget-slider, .widget-dropdown, .widget-checkbox, button.jupyter-button';
"""

_JS_FIND_APP = _JS_LABEL + """
([key, k]) => {
  const boxes = [...document.querySelectorAll('.jp-Notebook .widget-vbox')].filter(b =>
    b.querySelector('img.widget-image') &&
    [...b.querySelectorAll(CONTROLS)].some(c => labelOf(c) === key));
  const app = boxes.find(b => !boxes.some(o => o !== b && b.contains(o)));
  if (!app || !app.querySelector('img.widget-image').complete) return false;
  app.setAttribute('data-mrs-app', String(k));
  return true;
}
"""

_JS_CONTROLS = _JS_LABEL + """
(k) => {
  const app = document.querySelector(`[data-mrs-app="${k}"]`);
  return [...app.querySelectorAll(CONTROLS)].map((el, i) => {
    el.setAttribute('data-mrs-ctl', `${k}-${i}`);
    return {id: `${k}-${i}`, kind: kindOf(el), label: labelOf(el), disabled: disabledOf(el),
            value: valueOf(el)};
  });
}
"""

# arms a watch on the app's picture; the matching wait resolves to the seconds until it changed
_JS_ARM = """
(k) => {
  const img = document.querySelector(`[data-mrs-app="${k}"] img.widget-image`);
  const old = img.src;
  window.__mrsT0 = performance.now();
  window.__mrsDone = new Promise(resolve => {
    const obs = new MutationObserver(() => {
      if (img.src !== old) { obs.disconnect(); resolve(performance.now()); }
    });
    obs.observe(img, {attributes: true, attributeFilter: ['src']});
  });
  return true;
}
"""

_JS_WAIT = """
async (ms) => {
  const t = await Promise.race([window.__mrsDone, new Promise(r => setTimeout(() => r(null), ms))]);
  return t === null ? null : (t - window.__mrsT0) / 1000;
}
"""


class LabPage:
    """One notebook open in a JupyterLab page."""

    def __init__(self, page, notebook: str, out_dir):
        self.page, self.notebook, self.out_dir = page, notebook, out_dir
        self.console_errors = []
        page.on("console", lambda m: self.console_errors.append(m.text) if m.type == "error" else None)

    # -- the notebook ----------------------------------------------------------------------
    def open(self, base: str, timeout_s: float):
        self.page.goto(f"{base}/lab/tree/{self.notebook}?reset", wait_until="domcontentloaded")
        self.page.wait_for_function(_JS_KERNEL, timeout=timeout_s * 1000, polling=200)
        self.wait_idle(timeout_s, 1.0)
        self.page.evaluate("() => window.jupyterapp.shell.collapseLeft()")
        self.page.wait_for_selector(".jp-Notebook .jp-OutputArea-output", timeout=timeout_s * 1000)

    def wait_idle(self, timeout_s: float, settle_s: float):
        self.page.evaluate("() => { window.__mrsIdleSince = null; }")
        self.page.wait_for_function(_JS_IDLE_FOR, arg=[self.notebook, settle_s * 1000], polling=50,
                                    timeout=timeout_s * 1000)

    def raw_widget_text(self) -> list:
        """Output areas that show a widget's raw text (``VBox(children=...``) or an error."""
        return self.page.evaluate(_JS_RAW_TEXT)

    def static_picture(self, source: str) -> bool:
        """Whether the output of the code cell containing ``source`` shows a stored PNG."""
        return self.page.evaluate(_JS_STATIC_PICTURE, source)

    def run_all(self, timeout_s: float, idle_s: float) -> float:
        """Run All; returns the seconds until the kernel is idle again. Fails on a cell error."""
        start = time.monotonic()
        result = self.page.evaluate(_JS_RUN_ALL, timeout_s * 1000)
        assert result != "timeout", f"{self.notebook}: Run All did not finish within {timeout_s} s"
        self.wait_idle(idle_s, 1.0)
        seconds = time.monotonic() - start - 1.0
        errors = self.errors()
        assert not errors and result is not False, f"{self.notebook}: cells failed: {errors}"
        return seconds

    def errors(self) -> list:
        return self.page.evaluate(_JS_ERRORS)

    # -- an app ----------------------------------------------------------------------------
    def find_app(self, key: str, k: int) -> str:
        """Marks the app with a control labelled ``key``; returns its selector."""
        self.page.wait_for_function(_JS_FIND_APP, arg=[key, k], polling=250, timeout=30_000)
        return f'[data-mrs-app="{k}"]'

    def _k(self, app: str) -> str:
        return app.split('"')[1]

    def controls(self, app: str) -> list:
        return self.page.evaluate(_JS_CONTROLS, self._k(app))

    def readouts(self, app: str) -> dict:
        """label -> value as shown (sliders' readouts, dropdowns' labels, checkboxes on/off)."""
        return {c["label"]: c["value"] for c in self.controls(app) if c["kind"] in
                ("slider", "dropdown", "checkbox")}

    def _act(self, ctl: dict, tmp_path):
        loc = self.page.locator(f'[data-mrs-ctl="{ctl["id"]}"]')
        if ctl["kind"] == "slider":
            handle = loc.locator(".noUi-handle").first
            handle.focus()
            self.page.keyboard.press("ArrowRight")
            self.page.wait_for_timeout(150)
            if loc.locator(".widget-readout").first.text_content().strip() == ctl["value"]:
                self.page.keyboard.press("ArrowLeft")                # it was at its maximum
        elif ctl["kind"] == "dropdown":
            select = loc.locator("select")
            n = select.locator("option").count()
            index = select.evaluate("s => s.selectedIndex")
            select.select_option(index=(index + 1) % n)
        elif ctl["kind"] == "checkbox":
            loc.locator("input").click()
        elif ctl["kind"] == "upload":
            with self.page.expect_file_chooser() as chooser:
                loc.click()
            chooser.value.set_files(str(_upload_file(tmp_path, ctl["label"])))
        else:
            loc.click()

    def _timed(self, app: str, ctl: dict, tmp_path, timeout_s: float, settle_s: float) -> dict:
        """Does one action; returns ``{control, kind, seconds}`` (fails if the picture stays)."""
        self.page.evaluate(_JS_ARM, self._k(app))
        self._act(ctl, tmp_path)
        seconds = self.page.evaluate(_JS_WAIT, timeout_s * 1000)
        assert seconds is not None, (f"{self.notebook}: moving the enabled {ctl['kind']} "
                                     f"'{ctl['label']}' did not change the picture")
        self.wait_idle(timeout_s, settle_s)
        return {"control": ctl["label"], "kind": ctl["kind"], "seconds": round(seconds, 3)}

    def move_every_control(self, app: str, tmp_path, timeout_s: float, settle_s: float) -> list:
        """Moves every enabled control once (then ``pin`` after a slider move, then ``reset``);
        a reset follows any move that disabled another control. Returns the timed redraws."""
        done, moved = [], False
        for ctl in self.controls(app):
            if ctl["kind"] == "button":
                continue
            now = {c["id"]: c for c in self.controls(app)}
            if now[ctl["id"]]["disabled"]:
                continue
            done.append(self._timed(app, now[ctl["id"]], tmp_path, timeout_s, settle_s))
            moved = True
            after = {c["id"]: c for c in self.controls(app)}
            if any(after[i]["disabled"] and not c["disabled"] for i, c in now.items()):
                done.append(self._timed(app, self._button(app, "reset"), tmp_path, timeout_s, settle_s))
                moved = False
        pin = self._button(app, "pin")
        if pin is not None and not pin["disabled"]:
            slider = next(c for c in self.controls(app) if c["kind"] == "slider" and not c["disabled"])
            done.append(self._timed(app, slider, tmp_path, timeout_s, settle_s))
            done.append(self._timed(app, pin, tmp_path, timeout_s, settle_s))
            moved = True
        if moved:  # (a reset at the defaults has nothing to redraw)
            done.append(self._timed(app, self._button(app, "reset"), tmp_path, timeout_s, settle_s))
        return done

    def _button(self, app: str, word: str):
        return next((c for c in self.controls(app) if c["kind"] == "button" and word in c["label"]), None)

    # -- reports ---------------------------------------------------------------------------
    def screenshot(self, app: str, name: str):
        self.out_dir.mkdir(parents=True, exist_ok=True)
        try:
            self.page.locator(app).screenshot(path=str(self.out_dir / name))
        except Exception:                         # a screenshot is a report, never the failure
            pass

    def failure_report(self, log_path):
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(self.out_dir / f"{self.notebook}-failure.png"))
        except Exception:
            pass
        print("--- browser console errors ---\n" + "\n".join(self.console_errors[-20:]))
        try:
            print(f"--- JupyterLab log (tail) ---\n{log_path.read_text(errors='replace')[-4000:]}")
        except OSError:
            pass

    def close(self):
        try:
            self.page.evaluate("() => window.jupyterapp?.shell?.currentWidget?.sessionContext?.shutdown()")
        except Exception:
            pass
        self.page.close()


def _upload_file(tmp_path, label: str):
    """A small PNG to upload: a picture for ``image``, a white box on black for ``mask``."""
    import numpy as np
    from PIL import Image

    path = tmp_path / f"{label}.png"
    if not path.exists():
        rng = np.random.default_rng(len(label))
        if "mask" in label:
            a = np.zeros((48, 64), dtype=np.uint8)
            a[10:30, 20:44] = 255
        else:
            a = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
        Image.fromarray(a).save(path)
    return path
