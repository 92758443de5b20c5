"""The README's speed table, generated from a bench result (bench/results/latest.json): same-run ratios only.

    python bench/readme_table.py            # rewrite the table in README.md from bench/results/latest.json
    python bench/readme_table.py --check    # exit 1 if README.md's table is stale (tests/test_readme_table.py)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "latest.json"
START, END = "<!-- bench:start -->\n", "<!-- bench:end -->"


def _median(results: dict, model: str, steps: int, batch: int, runtime: str) -> float:
    for row in results["predict"]:
        if (row["model"], row["steps"], row["batch"]) == (model, steps, batch):
            return row["runtimes"][runtime]["median_ms"]
    raise KeyError(f"no {model} T={steps} batch={batch} row in the bench result")


def table(results: dict) -> str:
    """Markdown rows: LSTM(128)+Dense(60), one-hot, T=40, each number a ratio within the one run."""
    ort = {b: _median(results, "lstm", 40, b, "onnxruntime") for b in (1, 1024)}
    native1 = _median(results, "lstm", 40, 1, "kerasless (native)") / ort[1]
    numpy1 = _median(results, "lstm", 40, 1, "kerasless (numpy)") / ort[1]
    through = ort[1024] / _median(results, "lstm", 40, 1024, "kerasless (native)")
    cold = results["cold_start"]
    ours, tfl = cold["kerasless (native)"], cold["tflite"]
    stream = results["stream"]["lstm/native"]["median_us"]
    info = results["info"]
    rows = [
        "| | last `make bench` run | goal |",
        "|---|---|---|",
        f"| batch 1 latency | {native1:.2f} x ORT (native); {numpy1:.2f} x (pure NumPy) | ≤ 0.8; NumPy ≤ 1.5 |",
        f"| batch 1024 throughput | {through:.2f} x ORT | ≥ 1.2 |",
        f"| cold start (import + load + first predict) | {ours['wall_s'] / tfl['wall_s']:.2f} x TFLite's time "
        f"({ours['wall_s']:.2f} s); peak RSS {ours['peak_rss_mb']:.0f} MB (TFLite {tfl['peak_rss_mb']:.0f}) "
        "| ≤ TFLite, ≤ 45 MB |",
        f"| streaming step (`model.stream().step`) | {stream:.1f} µs | ≤ 20 µs |",
        "",
        f"(`bench/results/latest.json`: {info['cpus']} cores, load average {info['loadavg_start'][0]:.1f} at the "
        f"start, {info['bench_seconds'] / 60:.0f} min.)",
    ]
    return "\n".join(rows) + "\n"


def main(argv: list[str]) -> int:
    readme = ROOT / "README.md"
    text = readme.read_text()
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    fresh = head + START + table(json.loads(RESULTS.read_text())) + END + tail
    if "--check" in argv:
        return 0 if fresh == text else 1
    readme.write_text(fresh)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
