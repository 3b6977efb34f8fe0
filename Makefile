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
## a cosine that reaches lr 0 at step 7000; stage 2 resumes that run up to CKPT_STEPS in total, on
## the cosine of the longer run (the lr jumps back to about 5e-4 at step 7000, then decays to 0).
## Both stages together took 54-58 minutes per model on one thread (336 minutes for the six), so
## `make -j2 checkpoints` takes about 2 h 50 min on 2 cores.
CKPT_RECIPE := --preset tiny_latent --no-progress
CKPT_STEPS  := 14000
CKPT_resshift             := --process resshift --latent-mask max
CKPT_mvd                  := --process mvd --blur-width 1 --latent-mask max
CKPT_emmd                 := --process emmd --latent-mask max
CKPT_emmd_smooth          := --process emmd_smooth --blur-width 1 --latent-mask max
CKPT_emmd_smooth_noisemap := --process emmd_smooth --blur-width 1 --latent-mask max --use-noise-map
CKPT_authors              := --process authors --latent-mask authors
checkpoints: env $(CKPT_RUNS:%=runs/%/.done)
	$(BIN)/python -c "from mrs.pipelines import export_all; print(export_all('runs', 'data/checkpoints'))"

runs/%/.done: $(VENV)/.installed
	mkdir -p runs/$*
	OMP_NUM_THREADS=1 $(BIN)/python -m mrs train $(CKPT_$*) $(CKPT_RECIPE) --out runs/$* > runs/$*.log 2>&1 \
	  || { tail -20 runs/$*.log; exit 1; }
	OMP_NUM_THREADS=1 $(BIN)/python -m mrs train --resume --steps $(CKPT_STEPS) --no-progress --out runs/$* \
	  >> runs/$*.log 2>&1 || { tail -20 runs/$*.log; exit 1; }
	touch $@
