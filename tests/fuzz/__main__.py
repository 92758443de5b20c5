"""python -m fuzz (with tests/ on PYTHONPATH): run the corpus, print the family x outcome table, write the report."""

from __future__ import annotations

import argparse
import json
import sys
import time

from . import runner


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fuzz", description=__doc__)
    ap.add_argument("--cases", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=None, help="worker processes (default: cores)")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds per case before it counts as a hang")
    ap.add_argument("--h5py-timeout", type=float, default=10.0, help="KERASLESS_H5PY_TIMEOUT for the workers")
    ap.add_argument("--mem-gib", type=float, default=3.0, help="address-space cap of each worker")
    ap.add_argument("--family", help="only this family")
    ap.add_argument("--keras", type=int, default=0, help="compare up to N damaged files kerasless accepted with Keras")
    ap.add_argument("--only", nargs="+", help="only these case ids (e.g. zip-00042)")
    ap.add_argument("--keep", help="keep the generated files in this directory")
    ap.add_argument("--report", default="fuzz-report.json")
    ap.add_argument("--markdown", help="also write the distinct findings as Markdown to this file")
    args = ap.parse_args(argv)
    start = time.monotonic()

    def progress(done, total, rec):
        if rec["outcome"] in runner.BAD or args.only:
            print(f"  {rec['id']}: {rec['outcome']} {rec.get('etype', '')} {rec.get('where', '')} "
                  f"{(rec.get('message') or rec.get('detail') or '')[:160]!r}", flush=True)
        if done % 500 == 0:
            print(f"[{done}/{total}] {time.monotonic() - start:.0f} s", flush=True)

    report = runner.run(args.cases, args.seed, args.jobs, args.timeout, args.h5py_timeout, args.mem_gib,
                        run_dir=args.keep, keep=bool(args.keep), only=args.only, family=args.family,
                        progress=progress, keras=args.keras)
    with open(args.report, "w") as f:
        json.dump(report, f, indent=1)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(runner.findings_markdown(report))
    print(f"\n{report['cases']} cases in {report['seconds']} s (seed {args.seed}); report: {args.report}\n")
    print(runner.format_table(report))
    bad = report["findings"]
    if bad:
        print(f"\n{sum(g['count'] for g in bad)} findings, {len(bad)} distinct:")
        print(runner.format_findings(report))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
