"""Settings for the real-browser tests (registers the ``browser`` marker without touching pyproject)."""


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "browser: drives JupyterLab in headless Chromium via Playwright "
        "(needs /usr/bin/chromium and the playwright package; run with `pytest -m browser tests/browser`)",
    )
