# The two commands of the course:
#   make lab    create the environment if needed, install, open the course in JupyterLab
#   make test   create the environment if needed, install, lint, run pytest (unit tests + nbval over every chapter)
# Both are idempotent: once the stamp is newer than pyproject.toml and requirements-lock.txt, nothing is installed.
# On a headless or remote machine: make lab LAB_ARGS="--no-browser --ip=0.0.0.0 --port=8888" (open the printed URL
# with its token, or tunnel: ssh -N -L 8888:localhost:8888 you@remote).
# One chapter, re-executed and checked: make chapter NB=chapters/04_fusion.ipynb
# Runs on Linux and macOS (bash and make from Xcode's command line tools); on Windows run it inside WSL 2 (README).
SHELL := /bin/bash
# Some shells set PYTHONDONTWRITEBYTECODE; then every process recompiles torch's modules (about 25 s each for
# torch._dynamo on a 2-core laptop). Let Python cache bytecode in the environment.
unexport PYTHONDONTWRITEBYTECODE
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
STAMP := $(VENV)/.mmtutorial-installed
LAB_ARGS ?=
# JupyterLab refuses to run as root unless told (containers and CI machines often are root).
LAB_ROOT := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)
PYTEST_ARGS ?=
# Two pytest workers (this course targets a 2-core laptop); each notebook stays on one worker.
PYTEST_WORKERS ?= 2

.PHONY: lab test env system-deps lint format chapters chapter clean lock

lab: env
	$(VENV)/bin/jupyter lab --notebook-dir=chapters $(LAB_ROOT) $(LAB_ARGS)

test: env lint
	$(VENV)/bin/pytest -n $(PYTEST_WORKERS) --dist loadfile -p no:cacheprovider \
		--nbval-lax --nbval-current-env --nbval-cell-timeout=600 -m "slow or not slow" tests chapters $(PYTEST_ARGS)

env: $(STAMP) system-deps

$(PY):
	$(PYTHON) -m venv $(VENV)

$(UV): | $(PY)
	$(PY) -m pip install -q uv==0.13.9

# uv installs the pinned stack in about 30 s (pip takes about 80 s); requirements-lock.txt pins every
# transitive dependency so that a fresh install gives the same versions.
$(STAMP): pyproject.toml requirements-lock.txt | $(UV)
	$(UV) pip install --python $(PY) -c requirements-lock.txt -e ".[dev]"
	$(PY) -m ipykernel install --sys-prefix --name mmtutorial --display-name "Python (mmtutorial)" >/dev/null
	touch $(STAMP)

# System packages: espeak-ng speaks the spoken captions (chapter 02 and the speech data).
system-deps:
	@if command -v espeak-ng >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing espeak-ng (text-to-speech for spoken captions) with apt-get ..."; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng >/dev/null) \
		|| echo "NOTE: apt-get could not install espeak-ng; spoken captions fall back to procedural audio."; \
	else \
		echo "NOTE: espeak-ng is not installed and you are not root. Run 'sudo apt-get install espeak-ng'"; \
		echo "      (or 'conda install -c conda-forge espeak-ng') for spoken captions; procedural audio stands in."; \
	fi

lint: env
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: env
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Re-execute every chapter in a fresh kernel, top to bottom, keeping outputs (what is committed).
chapters: env
	for nb in chapters/[0-9]*.ipynb; do \
		echo "== $$nb"; /usr/bin/time -f "   %e s" $(VENV)/bin/jupyter nbconvert --to notebook --execute --inplace \
			--ExecutePreprocessor.kernel_name=mmtutorial --ExecutePreprocessor.timeout=600 $$nb || exit 1; \
	done

# Re-execute one chapter in a fresh kernel, keeping outputs, then check it as make test does.
NB ?= chapters/00_setup.ipynb
chapter: env
	$(VENV)/bin/jupyter nbconvert --to notebook --execute --inplace \
		--ExecutePreprocessor.kernel_name=mmtutorial --ExecutePreprocessor.timeout=600 $(NB)
	$(VENV)/bin/pytest -p no:cacheprovider --nbval-lax --nbval-current-env $(NB)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

# Refresh requirements-lock.txt from the current environment (after changing a pin in pyproject.toml).
lock: $(STAMP)
	{ echo "# Every package of the environment, pinned (uv pip freeze of a fresh 'make test' install, Linux x86_64)."; \
	  echo "# Used as constraints by the Makefile: a fresh install gets exactly these versions. Refresh: make lock."; \
	  $(UV) pip freeze --python $(PY) | grep -v -e '^-e' -e '^mmtutorial'; } > requirements-lock.txt.new
	mv requirements-lock.txt.new requirements-lock.txt
