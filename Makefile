# kerasless — the two Quickstart commands: `make demo` and `make test`. Both set themselves up from scratch.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
PIP     = $(PY) -m pip install --disable-pip-version-check -q

.PHONY: demo test test-fast fixtures bench bench-export docs browser clean

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

# Headless Chromium for the HTML report / web export render tests (Debian package; never a downloaded browser).
browser:
	@command -v chromium >/dev/null || (apt-get update -q && apt-get install -y -q chromium) \
		|| echo "no chromium: browser render tests will skip"

docs:   ## regenerate the generated tables in docs/weight-layouts.md
	$(PY) -m kerasless.layout_docs

demo: $(VENV)/.base
	$(VENV)/bin/kerasless demo

test: $(VENV)/.test browser
	$(PY) -m pytest -q

test-fast: $(VENV)/.test   ## everything but the live Keras cross-checks
	$(PY) -m pytest -q -m "not keras"

fixtures: $(VENV)/.test   ## regenerate tests/fixtures with Keras (commit the result)
	$(PY) tests/make_fixtures.py

bench: $(VENV)/.test
	$(PY) bench/bench_predict.py

bench-export: $(VENV)/.base   ## B=1 latency: exported C / NumPy target vs kerasless predict
	$(PY) bench/bench_export.py

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
