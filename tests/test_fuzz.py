"""The fuzz corpus (tests/fuzz, issue 11), a deterministic 1,000-case prefix: every case ends in a result (equal to
Keras's where a reference exists) or a typed error naming the file; no crash, hang, raw MemoryError, read outside
the file, executed payload or file written outside the case's directory; and 100 damaged files kerasless accepts
give what Keras gives on them (when TensorFlow is installed). ``make fuzz`` runs >= 10,000 cases."""

from __future__ import annotations

import importlib.util

import pytest
from fuzz import runner

SEED, CASES = 0, 1000
KERAS_CHECKS = 100 if importlib.util.find_spec("keras") and importlib.util.find_spec("tf_keras") else 0


@pytest.mark.slow
def test_fuzz_corpus_has_no_findings(tmp_path):
    # At most one case (a FIFO as the path) can block until the 20 s timeout.
    report = runner.run(CASES, SEED, timeout=20.0, h5py_timeout=5.0, run_dir=tmp_path / "run", keras=KERAS_CHECKS)
    assert report["cases"] >= CASES
    assert not report["findings"], (f"{sum(g['count'] for g in report['findings'])} findings in {CASES} cases\n"
                                    f"{runner.format_table(report)}\n{runner.format_findings(report)}")
