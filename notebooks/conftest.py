"""nbval settings for the notebooks: stderr (warnings carry kernel paths) is not compared."""


def pytest_collectstart(collector):
    if str(getattr(collector, "fspath", "")).endswith(".ipynb"):
        collector.skip_compare += ("stderr",)
