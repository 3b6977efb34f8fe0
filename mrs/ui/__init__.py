"""The user interface (layer 8): plots (``viz``), the interactive apps (``widgets``), the command
line (``cli``). Imported on use: matplotlib and ipywidgets load only when needed."""
