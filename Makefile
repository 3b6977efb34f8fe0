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

## re-train the shipped checkpoints: 64-px synthetic faces in the 16x16x3 latent space of the
## shipped tiny autoencoder (data/checkpoints/autoencoder_tiny_vq_f4, latents unscaled), the hole of
## y filled by the harmonic (Laplace) fill (--fill harmonic), one model per process, two runs at a
## time with one thread each (`make -j2 checkpoints` on 2 CPU cores), then export their fp16 EMA
## weights + training logs into data/checkpoints/. The latent mask is binary ("max": a latent is a
## hole if any of its pixels is) except for `authors`, which keeps its authors' rule.
CKPT_RUNS   := emmd authors resshift mvd emmd_smooth emmd_smooth_noisemap
## the recipe: stage 1 is the tiny_latent preset (--fill harmonic --latent-scale 1 --steps 7000
## --lr 1e-3 --warmup-steps 150 --ema-decay 0.995 --batch-size 8 --val-every 500 --ckpt-every 1000),
## a cosine that reaches lr 0 at step 7000; each later stage resumes the run up to the next of
## CKPT_STAGES steps in total, on the cosine of that longer run (warm restarts: the lr jumps back
## up, to about 5e-4 at step 7000 and 3.7e-4 at step 14000, then decays to 0).
## The six runs draw the same batches (one seed), so E(x0) and E(y) of every step are computed once
## (`mrs precompute`, two halves side by side) into runs/batches and read by every run: the same
## training bit for bit (tests/test_batch_cache.py), half the time per step. Measured with two
## processes side by side on 2 cores: precomputing 1000 steps took 74 s, a training step that reads
## them 0.111-0.118 s (0.22 s computing its own batch). So `make -j2 checkpoints` takes about
## 30 + 141 minutes, 2 h 50 min (an estimate from those rates; the shipped runs were trained in parts).
CKPT_RECIPE := --preset tiny_latent --no-progress --batches runs/batches
CKPT_STAGES := 14000 24000
CKPT_LAST   := $(lastword $(CKPT_STAGES))
CKPT_HALF   := $(shell expr $(CKPT_LAST) / 1000 \* 500)
CKPT_resshift             := --process resshift --latent-mask max
CKPT_mvd                  := --process mvd --blur-width 1 --latent-mask max
CKPT_emmd                 := --process emmd --latent-mask max
CKPT_emmd_smooth          := --process emmd_smooth --blur-width 1 --latent-mask max
CKPT_emmd_smooth_noisemap := --process emmd_smooth --blur-width 1 --latent-mask max --use-noise-map
CKPT_authors              := --process authors --latent-mask authors
checkpoints: env $(CKPT_RUNS:%=runs/%/.done)
	$(BIN)/python -c "from mrs.pipelines import export_all; print(export_all('runs', 'data/checkpoints'))"

runs/batches/.first: $(VENV)/.installed
	mkdir -p runs && OMP_NUM_THREADS=1 $(BIN)/python -m mrs precompute --preset tiny_latent --no-progress --out runs/batches \
	  --start 0 --stop $(CKPT_HALF) > runs/batches.first.log 2>&1 || { tail -20 runs/batches.first.log; exit 1; }
	touch $@

runs/batches/.second: $(VENV)/.installed
	mkdir -p runs && OMP_NUM_THREADS=1 $(BIN)/python -m mrs precompute --preset tiny_latent --no-progress --out runs/batches \
	  --start $(CKPT_HALF) --stop $(CKPT_LAST) > runs/batches.second.log 2>&1 \
	  || { tail -20 runs/batches.second.log; exit 1; }
	touch $@

runs/%/.done: $(VENV)/.installed runs/batches/.first runs/batches/.second
	mkdir -p runs/$*
	OMP_NUM_THREADS=1 $(BIN)/python -m mrs train $(CKPT_$*) $(CKPT_RECIPE) --out runs/$* > runs/$*.log 2>&1 \
	  || { tail -20 runs/$*.log; exit 1; }
	for n in $(CKPT_STAGES); do \
	  OMP_NUM_THREADS=1 $(BIN)/python -m mrs train --resume --steps $$n --no-progress --batches runs/batches \
	    --out runs/$* >> runs/$*.log 2>&1 || { tail -20 runs/$*.log; exit 1; }; \
	done
	touch $@
