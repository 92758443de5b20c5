"""The bench sections that live in their own files, run by bench_predict.py after its predict tables.

Each module has ``run(**kwargs) -> dict`` that prints its table and returns its JSON section (``{"skipped": why}``
when a tool it needs is missing); the dict lands in results/latest.json under the SECTIONS key, and
:func:`panels` turns it into a small ratio chart under the main one in results/latest.png.
"""

from __future__ import annotations

import importlib

import numpy as np

SECTIONS = {  # JSON key: (module, argparse args -> run() kwargs)
    "js": ("bench_js", lambda a: {"budget": a.budget, "batches": [1] if a.quick else [1, 32]}),
    "generate": ("bench_generate", lambda a: {"length": 400, "repeats": 1 if a.quick else 3}),
    "export": ("bench_export", lambda a: {"repeat": 200 if a.quick else 2000}),
}


def run(args) -> dict:
    """Run the sections named in ``args.sections``; one that fails is reported and recorded, the others run."""
    out = {}
    for key in args.sections:
        module, kwargs = SECTIONS[key]
        try:
            out[key] = importlib.import_module(module).run(**kwargs(args))
        except Exception as exc:  # noqa: BLE001  (one broken section must not lose the whole run)
            print(f"\n{module}: failed: {type(exc).__name__}: {exc}")
            out[key] = {"error": f"{type(exc).__name__}: {exc}"}
    return out


def panels(payload: dict) -> list[tuple[str, str, dict]]:
    """[(title, x label, {row label: median / reference median})] for the sections that produced numbers."""
    out = []
    ex = (payload.get("export") or {}).get("rows", {})
    if "onnxruntime" in ex:
        base = ex["onnxruntime"]["median_us"]
        out.append(("exported code, LSTM T=40, B=1", "latency / ONNX Runtime",
                    {k: r["median_us"] / base for k, r in ex.items()}))
    gen = (payload.get("generate") or {}).get("rows", {})
    if "onnxruntime window" in gen:
        base = gen["onnxruntime window"]["median_us_per_char"]
        out.append(("text generation (char_lstm)", "time per char / ORT window loop",
                    {k: r["median_us_per_char"] / base for k, r in gen.items()}))
    js, rows = payload.get("js") or {}, {}
    for case in js.get("predict", []):
        base = case["runtimes"]["tfjs (cpu)"]["median_ms"]
        rows.update({f"{k}, predict b={case['batch']}": r["median_ms"] / base for k, r in case["runtimes"].items()})
    if js.get("stream"):
        base = js["stream"]["tfjs (cpu)"]["median_ms"]
        rows.update({f"{k}, stream step": r["median_ms"] / base for k, r in js["stream"].items()})
    if rows:
        out.append(("node: exported JS vs TF.js, T=40", "latency / TF.js", rows))
    return out


def draw(fig, panel_list) -> None:
    """Horizontal log-scale ratio bars, one subplot per panel, on the second row of a 2-row figure."""
    for i, (title, xlabel, rows) in enumerate(panel_list):
        ax = fig.add_subplot(2, len(panel_list), len(panel_list) + i + 1)
        y = np.arange(len(rows))
        ax.barh(y, list(rows.values()), color=["0.6" if v == 1 else "C1" if v > 1 else "C0" for v in rows.values()])
        ax.axvline(1, color="k", lw=0.8)
        ax.set_xscale("log")
        ax.set_yticks(y, list(rows), fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel(f"{xlabel} (lower is faster)", fontsize=8)
        ax.set_title(title, fontsize=9)
