# kerasless — the two Quickstart commands: `make demo` and `make test`. Both set themselves up from scratch.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
PIP     = $(PY) -m pip install --disable-pip-version-check -q

.PHONY: demo test test-fast fixtures bench bench-quick bench-export docs toolchains clean

$(VENV)/.base: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip
	$(PIP) -e .
	touch $@

# Test dependencies: Keras 3 (through tensorflow-cpu) and tf_keras for the live cross-checks.
# tf-keras goes in with --no-deps, or it pulls the full tensorflow wheel over tensorflow-cpu.
$(VENV)/.test: $(VENV)/.base
	$(PIP) -e '.[test]' tensorflow-cpu==2.21.0
	$(PIP) --no-deps tf-keras==2.21.0
	touch $@

# Toolchains the end-to-end tests run generated code with (Debian packages; never a downloaded browser):
# headless Chromium (HTML report, web export), a JDK (javac --release 8), Node.js (JS export), a C compiler.
APT_NEEDS = $(if $(shell command -v chromium),,chromium) $(if $(shell command -v javac),,default-jdk-headless) \
            $(if $(shell command -v node),,nodejs) $(if $(shell command -v cc),,gcc)
toolchains:
	@if [ -n "$(strip $(APT_NEEDS))" ]; then \
		(apt-get update -q && apt-get install -y -q $(APT_NEEDS)) || echo "could not install: $(APT_NEEDS) (their tests will skip)"; fi

docs:   ## regenerate the generated tables in docs/weight-layouts.md
	$(PY) -m kerasless.layout_docs

demo: $(VENV)/.base
	$(VENV)/bin/kerasless demo

test: $(VENV)/.test toolchains
	$(PY) -m pytest -q

test-fast: $(VENV)/.test   ## everything but the live Keras cross-checks
	$(PY) -m pytest -q -m "not keras"

fixtures: $(VENV)/.test   ## regenerate tests/fixtures with Keras (commit the result)
	$(PY) tests/make_fixtures.py

bench: $(VENV)/.test   ## kerasless vs Keras, ONNX Runtime, TFLite -> bench/results/latest.{json,png} (~7 min)
	$(PIP) -r bench/requirements.txt
	$(PY) bench/bench_predict.py

bench-quick: $(VENV)/.test   ## LSTM T=40, batch 1 and 1024 only (~1 min)
	$(PIP) -r bench/requirements.txt
	$(PY) bench/bench_predict.py --quick

bench-export: $(VENV)/.base   ## B=1 latency: exported C / NumPy target vs kerasless predict
	$(PY) bench/bench_export.py

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
