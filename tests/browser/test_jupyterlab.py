"""Real-browser test: the interactive apps of notebooks 01, 06 and 09 as a student meets them.

One throw-away JupyterLab server on a temporary copy of ``notebooks/`` and one headless Chromium
(Playwright) for the module. For each notebook of ``APPS``:

1. open it before any kernel has run it: every app cell shows its stored picture, none the raw
   ``VBox(...)`` text;
2. Run All; no cell fails (the time is recorded);
3. each app shows its documented defaults (``APPS``: label -> readout as the page shows it);
4. every enabled control is moved once (slider: an arrow key; dropdown: the next option;
   checkbox: a click; file upload: a small PNG) and the app's picture must change; then the
   ``pin`` button (after a slider move) and the ``reset`` button, which must bring every control
   back to its default. The time from each action to the new picture is recorded.

The redraw times (median per notebook and over all) are printed and written with the Run All
times and the machine's load to ``out/browser/redraw_latency.json``; screenshots go to
``out/browser/``. Skipped when /usr/bin/chromium or playwright is missing (tests/browser/README.md).
"""

import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
OUT_DIR = REPO / "out" / "browser"

# notebook -> its apps, each found by the label of one of its controls, with its defaults as shown
APPS = {
    "01_resshift_schedule_and_forward.ipynb": [
        {"key": "kappa", "cell": "explorer = figure_app(",
         "defaults": {"kappa": "2.00", "power": "0.30", "min_noise_level": "0.20", "etas_end": "0.990",
                      "T": "4"}}],
    "06_smoothing_and_noise_floor.ipynb": [
        {"key": "blur w", "cell": "explorer = figure_app(",
         "defaults": {"blur w": "2.00", "floor": "0.02", "t": "4"}}],
    "09_interactive_sampling.ipynb": [
        {"key": "process", "cell": "app = sampler_app()",
         "defaults": {"process": "emmd_smooth", "denoiser": "net: pixel32/emmd_smooth", "mask_kind": "box",
                      "kappa": "2.00", "T": "4", "η (sampler)": "1.00", "power": "0.30",
                      "min_noise_level": "0.20", "etas_end": "0.990", "blur_width": "2.00",
                      "noise_floor": "0.02", "leak": "0.20", "seed": "0", "face": "0",
                      "compare A | B": "off"}},
        {"key": "checkpoint", "cell": "picture = inpaint_app()",
         "defaults": {"checkpoint": "emmd_smooth", "seed": "0", "top": "0.30", "left": "0.22",
                      "height": "0.30", "width": "0.56"}}],
}

SERVER_START_TIMEOUT = 60
KERNEL_IDLE_TIMEOUT = 90
RUN_ALL_TIMEOUT = 300
REDRAW_TIMEOUT = 30
IDLE_SETTLE_S = 0.3        # the kernel must stay idle this long to count as done
RESULTS: dict = {}

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]

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
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False))


def _log_tail(path, n=4000):
    try:
        return path.read_text(errors="replace")[-n:]
    except OSError:
        return "(no log)"


def _lab_dirs(tmp):
    dirs = {k: tmp / k for k in ("jupyter-config", "lab-settings", "lab-workspaces", "jupyter-data",
                                 "jupyter-runtime")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    # no news popup, no update check, and every cell kept in the DOM (no windowing)
    settings = dirs["lab-settings"]
    _write_json(settings / "@jupyterlab/apputils-extension/notification.jupyterlab-settings",
                {"fetchNews": "false", "checkForUpdates": False})
    _write_json(settings / "@jupyterlab/notebook-extension/tracker.jupyterlab-settings",
                {"windowingMode": "none"})
    return dirs


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory):
    """A JupyterLab server on a temporary copy of notebooks/; yields (base_url, log_path)."""
    tmp = tmp_path_factory.mktemp("lab")
    work = tmp / "repo"
    root = work / "notebooks"
    shutil.copytree(REPO / "notebooks", root,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    if (REPO / "data").exists():  # notebooks may read ../data (e.g. checkpoints)
        (work / "data").symlink_to(REPO / "data", target_is_directory=True)
    dirs = _lab_dirs(tmp)
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(dirs["jupyter-config"]),
               JUPYTER_DATA_DIR=str(dirs["jupyter-data"]), JUPYTER_RUNTIME_DIR=str(dirs["jupyter-runtime"]),
               JUPYTERLAB_SETTINGS_DIR=str(dirs["lab-settings"]),
               JUPYTERLAB_WORKSPACES_DIR=str(dirs["lab-workspaces"]), PYTHONWARNINGS="ignore")
    env.pop("MPLBACKEND", None)
    port = _free_port()
    cmd = [sys.executable, "-m", "jupyterlab", "--allow-root", "--no-browser", "--ip", "127.0.0.1",
           f"--port={port}", "--ServerApp.port_retries=0", "--ServerApp.token=", "--ServerApp.password=",
           "--LabApp.expose_app_in_browser=True",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.news_url=None",
           f"--ServerApp.root_dir={root}", f"--LabApp.user_settings_dir={dirs['lab-settings']}",
           f"--LabApp.workspaces_dir={dirs['lab-workspaces']}"]
    log_path = tmp / "jupyterlab.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for_server(proc, base, log_path)
        yield base, log_path
    finally:
        _stop(proc)


def _wait_for_server(proc, base, log_path):
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while True:
        if proc.poll() is not None:
            pytest.fail(f"JupyterLab exited with {proc.returncode}:\n{_log_tail(log_path)}")
        try:
            with urllib.request.urlopen(f"{base}/api/status", timeout=5) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"JupyterLab did not answer within {SERVER_START_TIMEOUT} s:\n{_log_tail(log_path)}")
        time.sleep(0.5)


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
@pytest.fixture(scope="module")
def browser_context(tmp_path_factory):
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=str(CHROMIUM),
            headless=True, args=CHROMIUM_ARGS, viewport={"width": 1400, "height": 1000})
        try:
            yield context
        finally:
            context.close()


@pytest.fixture(scope="module", autouse=True)
def report(request):
    """Writes out/browser/redraw_latency.json and prints the medians once every notebook ran."""
    yield
    if not RESULTS:
        return
    every = [r["seconds"] for nb in RESULTS.values() for r in nb["redraws"]]
    summary = {"median_redraw_s": statistics.median(every) if every else None,
               "redraws": len(every), "cpu_cores": os.cpu_count(),
               "load_average_1_5_15": os.getloadavg(), "notebooks": RESULTS}
    _write_json(OUT_DIR / "redraw_latency.json", summary)
    lines = [f"{nb}: Run All {r['run_all_s']:.1f} s, median redraw {r['median_redraw_s']:.2f} s "
             f"over {len(r['redraws'])} control moves" for nb, r in RESULTS.items()]
    lines.append(f"all notebooks: median redraw {summary['median_redraw_s']:.2f} s over {len(every)} "
                 f"moves; {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; "
                 f"written to {OUT_DIR / 'redraw_latency.json'}")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if capture is not None:
        with capture.global_and_fixture_disabled():    # shown in every run, not only on failure
            print("\n" + "\n".join(lines))
    else:
        print("\n".join(lines))


from .lab_driver import LabPage  # noqa: E402  (the page-side helpers)


# -------------------------------------------------------------------------------------- test
@pytest.mark.parametrize("notebook", list(APPS))
def test_apps_show_defaults_and_every_enabled_control_redraws(notebook, lab_server, browser_context,
                                                              tmp_path):
    base, log_path = lab_server
    page = browser_context.new_page()
    page.set_default_timeout(30_000)
    lab = LabPage(page, notebook, OUT_DIR)
    try:
        lab.open(base, KERNEL_IDLE_TIMEOUT)
        assert lab.raw_widget_text() == [], "an app cell shows its raw widget text before running"
        for spec in APPS[notebook]:
            assert lab.static_picture(spec["cell"]), f"'{spec['cell']}' shows no picture before running"
        run_all_s = lab.run_all(RUN_ALL_TIMEOUT, KERNEL_IDLE_TIMEOUT)
        redraws = []
        for k, spec in enumerate(APPS[notebook]):
            app = lab.find_app(spec["key"], k)
            lab.screenshot(app, f"{Path(notebook).stem}-app{k}-defaults.png")
            assert lab.readouts(app) | spec["defaults"] == lab.readouts(app), (
                f"{notebook}: the app is not at its documented defaults after Run All")
            redraws += lab.move_every_control(app, tmp_path, REDRAW_TIMEOUT, IDLE_SETTLE_S)
            lab.screenshot(app, f"{Path(notebook).stem}-app{k}-after.png")
            assert lab.readouts(app) | spec["defaults"] == lab.readouts(app), (
                f"{notebook}: reset did not bring the app back to its defaults")
        assert lab.errors() == [], "cells failed after the controls were moved"
        RESULTS[notebook] = {"run_all_s": run_all_s, "redraws": redraws,
                             "median_redraw_s": statistics.median(r["seconds"] for r in redraws)}
        slow = ", ".join(f"{r['control']} {r['seconds']:.2f} s" for r in redraws)
        print(f"\n{notebook}: Run All {run_all_s:.1f} s; redraws: {slow}")
    except BaseException:
        lab.failure_report(log_path)
        raise
    finally:
        lab.close()
