"""Real-browser test: the interactive sampler notebook works in JupyterLab.

Starts a throw-away JupyterLab server on a temporary copy of ``notebooks/``, opens
``NOTEBOOK`` (09_interactive_sampling.ipynb) in Debian's headless Chromium through Playwright,
runs all cells, moves the sampler app's ``kappa`` slider (``SLIDER_LABELS``) and checks that
the rendered result image is re-drawn.
Screenshots go to ``out/browser/`` (``jupyterlab-before.png`` before the slider move,
``jupyterlab.png`` after it, ``jupyterlab-failure.png`` if the test fails).

Skipped when /usr/bin/chromium or the playwright package is missing. Run with
``pytest -m browser tests/browser`` (see tests/browser/README.md).
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

# --- what is tested (switchable: the env variables are for trying other notebooks by hand) ---
NOTEBOOK = os.environ.get("MRS_BROWSER_NOTEBOOK", "09_interactive_sampling.ipynb")
# the slider to move, matched case-insensitively against the widget's description
# (a trailing ':' is ignored); for 06_smoothing_and_noise_floor.ipynb use "blur w"
SLIDER_LABELS = tuple(
    s.strip().lower() for s in os.environ.get("MRS_BROWSER_SLIDER", "kappa,κ").split(",") if s.strip()
)
KEY_PRESSES = 3  # arrow-key presses on the slider handle (one kernel callback each)

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
OUT_DIR = REPO / "out" / "browser"

# timeouts (seconds); the whole test takes ~15-40 s, the limits leave room for a busy CPU
SERVER_START_TIMEOUT = 60
KERNEL_IDLE_TIMEOUT = 60
RUN_ALL_TIMEOUT = 240
SLIDER_UPDATE_TIMEOUT = 120
IDLE_SETTLE_S = 1.5  # the kernel must stay idle this long to count as "done"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium, or .ci/install-browser)",
                allow_module_level=True)
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is missing (pip install playwright)")
pytest.importorskip("jupyterlab", reason="jupyterlab is missing (pip install -e .[dev])")

pytestmark = pytest.mark.browser


# ------------------------------------------------------------------------------------ server
def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_json(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def _log_tail(path, n=4000):
    try:
        return path.read_text(errors="replace")[-n:]
    except OSError:
        return "(no log)"


@pytest.fixture
def lab_server(tmp_path):
    """A fresh JupyterLab server on a temporary copy of notebooks/; yields (base_url, log_path)."""
    notebook = REPO / "notebooks" / NOTEBOOK
    assert notebook.exists(), f"{notebook} does not exist"
    work = tmp_path / "repo"
    root = work / "notebooks"
    shutil.copytree(REPO / "notebooks", root,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    if (REPO / "data").exists():  # notebooks may read ../data (e.g. checkpoints)
        (work / "data").symlink_to(REPO / "data", target_is_directory=True)

    config_dir = tmp_path / "jupyter-config"
    settings_dir = tmp_path / "lab-settings"
    workspaces_dir = tmp_path / "lab-workspaces"
    for d in (config_dir, settings_dir, workspaces_dir, tmp_path / "jupyter-data",
              tmp_path / "jupyter-runtime"):
        d.mkdir(parents=True, exist_ok=True)
    # no news popup, no update check, and every cell kept in the DOM (no windowing), so that
    # the widget outputs exist even when they are scrolled out of view
    _write_json(settings_dir / "@jupyterlab/apputils-extension/notification.jupyterlab-settings",
                {"fetchNews": "false", "checkForUpdates": False})
    _write_json(settings_dir / "@jupyterlab/notebook-extension/tracker.jupyterlab-settings",
                {"windowingMode": "none"})

    env = dict(os.environ,
               JUPYTER_CONFIG_DIR=str(config_dir),
               JUPYTER_DATA_DIR=str(tmp_path / "jupyter-data"),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "jupyter-runtime"),
               JUPYTERLAB_SETTINGS_DIR=str(settings_dir),
               JUPYTERLAB_WORKSPACES_DIR=str(workspaces_dir),
               PYTHONWARNINGS="ignore")
    env.pop("MPLBACKEND", None)
    port = _free_port()
    cmd = [sys.executable, "-m", "jupyterlab",
           "--allow-root", "--no-browser", "--ip", "127.0.0.1", f"--port={port}",
           "--ServerApp.port_retries=0",
           "--ServerApp.token=", "--ServerApp.password=",
           "--LabApp.expose_app_in_browser=True",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
           "--LabApp.news_url=None",
           f"--ServerApp.root_dir={root}",
           f"--LabApp.user_settings_dir={settings_dir}",
           f"--LabApp.workspaces_dir={workspaces_dir}"]
    log_path = tmp_path / "jupyterlab.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"JupyterLab exited with {proc.returncode}:\n{_log_tail(log_path)}")
            try:
                with urllib.request.urlopen(f"{base}/api/status", timeout=5) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not answer within {SERVER_START_TIMEOUT} s:\n"
                            f"{_log_tail(log_path)}")
            time.sleep(0.5)
        yield base, log_path
    finally:
        _stop(proc)


def _stop(proc):
    """SIGTERM lets the server shut its kernels down; SIGKILL the process group if it hangs."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=10)


# ----------------------------------------------------------------------------------- browser
@pytest.fixture
def page(tmp_path):
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),  # a fresh --user-data-dir
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000})
        try:
            pg = context.pages[0] if context.pages else context.new_page()
            pg.set_default_timeout(30_000)
            yield pg
        finally:
            context.close()


# --------------------------------------------------------------------------- page-side helpers
_JS_KERNEL = """
() => {
  const w = window.jupyterapp?.shell?.currentWidget;
  return w?.sessionContext?.session?.kernel ?? null;
}
"""

# true once the current notebook's kernel has been idle for `settle` ms without a break
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

# runs all cells; resolves to the command's result (false when a cell failed) or 'timeout'
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

# marks the wanted slider and the app around it (the nearest ancestor inside the same cell
# that holds an Output widget image); returns the labels seen when no slider matches
_JS_MARK = """
(labels) => {
  const norm = s => s.trim().replace(/:\\s*$/, '').trim().toLowerCase();
  const sliders = [...document.querySelectorAll('.jp-Notebook .widget-slider')];
  const label = s => s.querySelector('.widget-label')?.textContent ?? '';
  const seen = sliders.map(label);
  const slider = sliders.find(s => labels.includes(norm(label(s))));
  if (!slider) return {ok: false, seen};
  let app = slider.parentElement;
  while (app && !app.querySelector('.widget-output img') && !app.classList.contains('jp-Cell'))
    app = app.parentElement;
  if (!app || !app.querySelector('.widget-output img')) return {ok: false, seen, noImage: true};
  document.querySelectorAll('[data-mrs-test]').forEach(e => e.removeAttribute('data-mrs-test'));
  slider.setAttribute('data-mrs-test', 'slider');
  app.setAttribute('data-mrs-test', 'app');
  return {ok: true, seen};
}
"""

_JS_IMAGE_SRC = """
() => {
  const img = document.querySelector('[data-mrs-test="app"] .widget-output img');
  return (img && img.complete && img.naturalWidth > 0) ? img.getAttribute('src') : null;
}
"""

SLIDER = '[data-mrs-test="slider"]'
APP = '[data-mrs-test="app"]'


def _wait_idle(page, timeout_s):
    page.evaluate("() => { window.__mrsIdleSince = null; }")
    page.wait_for_function(_JS_IDLE_FOR, arg=[NOTEBOOK, IDLE_SETTLE_S * 1000], polling=100,
                           timeout=timeout_s * 1000)


def _readout(page):
    return page.locator(f"{SLIDER} .widget-readout").first.text_content().strip()


def _screenshot(page, name):
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    try:
        page.locator(APP).first.scroll_into_view_if_needed(timeout=5000)
    except sync_api.Error:
        pass
    page.screenshot(path=str(OUT_DIR / name))


# -------------------------------------------------------------------------------------- test
@pytest.mark.browser
def test_sampler_slider_rerenders_image(lab_server, page):
    base, log_path = lab_server
    console_errors = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    t0 = time.monotonic()
    try:
        page.goto(f"{base}/lab/tree/{NOTEBOOK}?reset", wait_until="domcontentloaded")
        page.wait_for_function(_JS_KERNEL, timeout=KERNEL_IDLE_TIMEOUT * 1000, polling=200)
        _wait_idle(page, KERNEL_IDLE_TIMEOUT)
        page.evaluate("() => window.jupyterapp.shell.collapseLeft()")  # wider screenshots

        result = page.evaluate(_JS_RUN_ALL, RUN_ALL_TIMEOUT * 1000)
        assert result != "timeout", f"run-all did not finish within {RUN_ALL_TIMEOUT} s"
        _wait_idle(page, KERNEL_IDLE_TIMEOUT)
        errors = page.evaluate(_JS_ERRORS)
        assert not errors and result is not False, f"cells failed: {errors}"

        # the app's slider and its rendered image
        try:  # widget views render asynchronously after the kernel went idle
            page.wait_for_function(f"(labels) => ({_JS_MARK})(labels).ok", arg=list(SLIDER_LABELS),
                                   polling=250, timeout=30_000)
        except sync_api.TimeoutError:
            pass
        mark = page.evaluate(_JS_MARK, list(SLIDER_LABELS))
        assert mark["ok"], (f"no slider labelled {SLIDER_LABELS} next to a '.widget-output img' "
                            f"(slider labels seen: {mark['seen']})")
        page.wait_for_function(_JS_IMAGE_SRC, polling=200, timeout=30_000)
        src_before = page.evaluate(_JS_IMAGE_SRC)
        readout_before = _readout(page)
        _screenshot(page, "jupyterlab-before.png")

        # move the slider with the keyboard: focus the handle, press the arrows
        handle = page.locator(f"{SLIDER} .noUi-handle").first
        handle.scroll_into_view_if_needed()
        handle.focus()
        for key in ("ArrowRight", "ArrowLeft"):  # ArrowLeft only when already at the maximum
            for _ in range(KEY_PRESSES):
                page.keyboard.press(key)
                page.wait_for_timeout(100)
            if _readout(page) != readout_before:
                break
        readout_after = _readout(page)
        assert readout_after != readout_before, f"slider readout stayed at {readout_before}"

        # the callbacks run in the kernel; wait until it is idle and the image was replaced
        _wait_idle(page, SLIDER_UPDATE_TIMEOUT)
        page.wait_for_function(f"(old) => {{ const s = ({_JS_IMAGE_SRC})(); return s && s !== old; }}",
                               arg=src_before, polling=200, timeout=30_000)
        _wait_idle(page, SLIDER_UPDATE_TIMEOUT)
        src_after = page.evaluate(_JS_IMAGE_SRC)
        _screenshot(page, "jupyterlab.png")
        assert src_after and src_after != src_before
        errors = page.evaluate(_JS_ERRORS)
        assert not errors, f"cells failed after the slider move: {errors}"
        print(f"\n{NOTEBOOK}: slider {readout_before} -> {readout_after}, image re-rendered "
              f"({len(src_before)} -> {len(src_after)} chars); {time.monotonic() - t0:.1f} s in the browser")
    except BaseException:
        try:
            OUT_DIR.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(OUT_DIR / "jupyterlab-failure.png"))
        except Exception:
            pass
        print("--- browser console errors ---\n" + "\n".join(console_errors[-20:]))
        print(f"--- JupyterLab log (tail) ---\n{_log_tail(log_path)}")
        raise
