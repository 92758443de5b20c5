import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from helpers import WORST  # noqa: E402


def pytest_terminal_summary(terminalreporter):
    if WORST:
        label, diff = max(WORST.items(), key=lambda kv: kv[1])
        terminalreporter.write_line(
            f"kerasless fidelity: {len(WORST)} comparisons, worst max abs diff {diff:.3g} ({label})"
        )
