# Two commands for a fresh machine:  `make demo` (the main job) and `make test` (all tests).
# Both build .venv from pyproject.toml first. Override TORCH for another torch build.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
TORCH  ?= torch==2.14.1 torchvision==0.29.1
NBVAL  := --nbval --nbval-current-env --nbval-sanitize-with notebooks/sanitize.cfg

.PHONY: env demo notebooks test test-unit test-notebooks lint clean checkpoints

env: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

## the main job: load the shipped checkpoints, inpaint the validation faces with every process,
## write out/demo/comparison.png + out/demo/metrics.md and print the table
demo: env
	$(BIN)/python -m mrs demo --out out/demo

## execute the whole notebook series headless on CPU into out/notebooks (ipynb + html)
notebooks: env
	mkdir -p out/notebooks
	$(BIN)/jupyter nbconvert --to notebook --execute --output-dir out/notebooks notebooks/[0-9]*.ipynb
	$(BIN)/jupyter nbconvert --to html --output-dir out/notebooks out/notebooks/[0-9]*.ipynb
	@echo "executed notebooks: out/notebooks/*.ipynb; pages with every figure: out/notebooks/*.html"

## all tests: unit tests, then every notebook re-executed and compared with its stored outputs
test: env
	$(BIN)/python -m pytest tests
	$(BIN)/python -m pytest $(NBVAL) notebooks

test-unit: env
	$(BIN)/python -m pytest tests

test-notebooks: env
	$(BIN)/python -m pytest $(NBVAL) notebooks

lint: env
	$(BIN)/ruff check mrs tests benchmarks

clean:
	rm -rf out .pytest_cache

## re-train the shipped checkpoints (tiny preset, synthetic faces, CPU: ~10 min each) and export
## their fp16 EMA weights + training logs into data/checkpoints/
## (mvd with blur_width 2 and emmd_smooth with its defaults, blur_width 2 and noise_floor 0.02, as shipped)
CKPT_PROCESSES := resshift mvd emmd emmd_smooth
checkpoints: env
	for p in $(CKPT_PROCESSES); do \
	  $(BIN)/python -m mrs train --process $$p --blur-width 2 --preset tiny --out runs/$$p --no-progress || exit 1; done
	$(BIN)/python -m mrs train --process emmd_smooth --use-noise-map --preset tiny \
	  --out runs/emmd_smooth_noisemap --no-progress
	$(BIN)/python -c "from mrs.pipelines import export_all; print(export_all('runs', 'data/checkpoints'))"
