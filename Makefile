# kerasless — the two Quickstart commands: `make demo` and `make test`. Both set themselves up from scratch.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
PIP     = $(PY) -m pip install --disable-pip-version-check -q

.PHONY: demo test test-fast fuzz fixtures bench bench-quick bench-export bench-serve bench-scale bench-deps docs toolchains clean

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
# headless Chromium (HTML report, web export), a JDK (javac --release 8), Node.js (JS export), C compilers (gcc and
# clang: the C export must build clean with both) and CMake (the C export's CMakeLists.txt). Swift is not a Debian
# package: install it from swift.org (the Swift export tests skip without it).
APT_NEEDS = $(if $(shell command -v chromium),,chromium) $(if $(shell command -v javac),,default-jdk-headless) \
            $(if $(shell command -v node),,nodejs) $(if $(shell command -v cc),,gcc) \
            $(if $(shell command -v clang),,clang) $(if $(shell command -v cmake),,cmake)
toolchains:
	@if [ -n "$(strip $(APT_NEEDS))" ]; then \
		(apt-get update -q && apt-get install -y -q $(APT_NEEDS)) || echo "could not install: $(APT_NEEDS) (their tests will skip)"; fi

docs:   ## regenerate the generated tables in docs/weight-layouts.md
	$(PY) -m kerasless.layout_docs

demo: $(VENV)/.base
	$(VENV)/bin/kerasless demo

test: $(VENV)/.test toolchains   ## ruff, then every test (the slowest are listed at the end)
	$(VENV)/bin/ruff check src tests bench
	$(PY) -m pytest -q --durations=15

test-fast: $(VENV)/.test   ## everything but the live Keras cross-checks
	$(PY) -m pytest -q -m "not keras"

fuzz: $(VENV)/.test   ## >= 10,000 malformed files and bad inputs (tests/fuzz): family x outcome table, fuzz-report.json
	PYTHONPATH=tests $(PY) -m fuzz --cases 10000 --keras 2000 --report fuzz-report.json

fixtures: $(VENV)/.test   ## regenerate tests/fixtures with Keras (commit the result)
	$(PY) tests/make_fixtures.py

# TF.js for the exported-JS comparison: pinned in bench/js/package-lock.json, bench-only (never a runtime dep).
# Without npm the section skips with a message; the rest of the bench still runs.
bench/js/node_modules/.package-lock.json: bench/js/package.json bench/js/package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --prefix bench/js --no-audit --no-fund --loglevel=error \
		|| echo "npm ci failed: the exported JS vs TF.js section will skip"; \
	else echo "npm not found: the exported JS vs TF.js section will skip"; fi

bench-deps: $(VENV)/.test bench/js/node_modules/.package-lock.json
	$(PIP) -r bench/requirements.txt

bench: bench-deps   ## kerasless vs Keras, ONNX Runtime, TFLite, TF.js; generation; exported C -> bench/results/latest.{json,png} (~11 min)
	$(PY) bench/bench_predict.py
	$(PY) bench/readme_table.py

bench-quick: bench-deps   ## LSTM T=40, batch 1 and 1024; the sections with fewer repeats (~2 min)
	$(PY) bench/bench_predict.py --quick

bench-export: bench-deps   ## B=1 latency only: exported C / NumPy target vs ONNX Runtime and kerasless predict
	$(PY) bench/bench_export.py

bench-serve: $(VENV)/.test   ## kerasless serve vs the same server on Keras predict: req/s, p50/p99 at 1/8/32 clients (~3 min)
	$(PY) bench/bench_serve.py

bench-scale: $(VENV)/.test toolchains   ## 10^6 sequences on local Spark: kerasless vs Keras UDF vs one process -> bench/results/scale.json (~10 min)
	$(PY) bench/bench_scale.py

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
