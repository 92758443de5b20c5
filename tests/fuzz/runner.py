"""Runs cases in a pool of worker processes (worker.py), each under a memory cap; a case that crashes or outlives its
timeout kills only its worker (and its process group), which is replaced. Classifies, tabulates, writes the report.

Outcomes: ok, typed (a KeraslessError naming the file), refused (typed, where Keras has an answer: reported),
lenient (a damaged file kerasless answers for and Keras refuses: reported), and the findings: noname, untyped, memory, crash, hang, canary, wrong, accepted, executed (a payload ran),
escaped (a file appeared outside the case's directory).
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

from . import corpus

WORKER = str(Path(__file__).with_name("worker.py"))
ORACLE = str(Path(__file__).with_name("oracle.py"))
GOOD = ("ok", "typed", "refused", "lenient")
BAD = ("noname", "untyped", "memory", "crash", "hang", "canary", "wrong", "accepted", "executed", "escaped")
OUTCOMES = GOOD + BAD + ("harness",)


class Worker:
    def __init__(self, script: str, err_path: Path, mem: int, env: dict):
        self.script, self.err_path, self.mem, self.env = script, err_path, mem, env
        self.err = open(self.err_path, "ab")  # noqa: SIM115 - the worker's stderr for its whole life
        self.proc = subprocess.Popen([sys.executable, script, str(mem)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.err, env=env, start_new_session=True)
        self.buf, self.case, self.deadline, self.err_at = b"", None, 0.0, 0

    def send(self, case: dict, timeout: float) -> None:
        self.case, self.deadline = case, time.monotonic() + timeout
        self.err_at = self.err_path.stat().st_size
        self.proc.stdin.write((json.dumps(case) + "\n").encode())
        self.proc.stdin.flush()

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # the worker and any child it started (isolated h5py)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.err.close()

    def stderr_tail(self) -> str:
        with open(self.err_path, "rb") as f:
            f.seek(self.err_at)
            return f.read()[-1500:].decode("utf8", "replace")


def pool(items, make, done, script: str, jobs: int, mem: int, env: dict, timeout: float, run_dir: Path,
         tag: str = "worker") -> None:
    """Feed ``make(item)`` (a job dict, or None to skip) to ``jobs`` workers running ``script``; ``done(job, result)``
    for each answer, a crash (the worker died) or a hang (no answer in ``timeout``: its process group is killed)."""
    workers = [Worker(script, run_dir / f"{tag}-{i}.err", mem, env) for i in range(jobs)]
    sel = selectors.DefaultSelector()
    for w in workers:
        sel.register(w.proc.stdout, selectors.EVENT_READ, w)
    queue, exhausted = iter(items), False

    def replace(w: Worker) -> None:
        sel.unregister(w.proc.stdout)
        w.kill()
        i = workers.index(w)
        workers[i] = Worker(script, w.err_path, mem, env)
        sel.register(workers[i].proc.stdout, selectors.EVENT_READ, workers[i])

    def answer(w: Worker, res: dict) -> None:
        job, w.case = w.case, None
        done(job, res)

    while True:
        for w in workers:
            while w.case is None and not exhausted:
                item = next(queue, None)
                if item is None:
                    exhausted = True
                    break
                job = make(item)
                if job is not None:
                    w.send(job, timeout)
        busy = [w for w in workers if w.case is not None]
        if not busy:
            break
        wait = max(0.0, min(w.deadline for w in busy) - time.monotonic())
        for key, _ in sel.select(wait):
            w = key.data
            chunk = os.read(w.proc.stdout.fileno(), 1 << 16)
            if not chunk:  # died
                code = w.proc.wait()
                sig = -code if code < 0 else None
                tail = w.stderr_tail()
                answer(w, {"outcome": "crash", "detail": f"worker died ({f'signal {sig}' if sig else f'exit {code}'})",
                           "where": _crash_frame(tail), "message": tail[-600:]})
                replace(w)
                continue
            w.buf += chunk
            while b"\n" in w.buf and w.case is not None:
                line, w.buf = w.buf.split(b"\n", 1)
                answer(w, json.loads(line))
        now = time.monotonic()
        for w in list(workers):
            if w.case is not None and now >= w.deadline:
                try:
                    os.kill(w.proc.pid, signal.SIGUSR1)  # faulthandler: where it is stuck
                    time.sleep(0.5)
                except ProcessLookupError:
                    pass
                tail = w.stderr_tail()
                answer(w, {"outcome": "hang", "detail": f"no answer in {timeout:g} s", "where": _crash_frame(tail),
                           "message": tail[-600:]})
                replace(w)
    for w in workers:
        w.proc.stdin.close()
        w.kill()


def _stamp(p: str):
    try:
        st = os.lstat(p)
        return (st.st_ino, st.st_mtime_ns)
    except OSError:
        return None


ORACLE_FAMILIES = ("h5-bytes", "config", "h5-struct", "zip", "unsafe")


def run(cases: int = 10000, seed: int = 0, jobs: int | None = None, timeout: float = 30.0, h5py_timeout: float = 10,
        mem_gib: float = 3.0, run_dir: Path | None = None, keep: bool = False, only=None, family=None,
        progress=None, keras: int = 0) -> dict:
    """Generate and run the corpus; then (``keras`` > 0) compare up to that many accepted damaged files with what
    Keras makes of them. Returns the report (a JSON-able dict)."""
    import tempfile

    run_dir = Path(run_dir or tempfile.mkdtemp(prefix="kl-fuzz-")).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    todo = corpus.schedule(cases, family)
    if only:
        todo = [(i.rsplit("-", 1)[0], int(i.rsplit("-", 1)[1])) for i in only]
    env = {**os.environ, "KERASLESS_H5PY_TIMEOUT": str(h5py_timeout), "OPENBLAS_NUM_THREADS": "1",
           "OMP_NUM_THREADS": "1", "KERASLESS_THREADS": "1", "PYTHONFAULTHANDLER": "1"}
    src = str(Path(__file__).resolve().parents[2] / "src")
    if os.path.isdir(src) and src not in env.get("PYTHONPATH", ""):
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    jobs = jobs or os.cpu_count() or 2
    results, base, oracle = [], {}, []
    t0 = time.monotonic()

    def make(item):
        try:
            case = corpus.make(*item, seed, run_dir)
        except Exception as exc:  # noqa: BLE001 - a generator bug is reported, not fatal
            results.append({"id": f"{item[0]}-{item[1]:05d}", "family": item[0], "outcome": "harness",
                            "detail": f"generation failed: {type(exc).__name__}: {exc}"})
            return None
        case["save"] = len(oracle) < keras and case["family"] in ORACLE_FAMILIES
        base.update({p: _stamp(p) for p in case["watch"]})
        return case

    def finish(case: dict, res: dict) -> None:
        for p in case["watch"]:
            if _stamp(p) != base.get(p):
                kind = "executed" if "pwned" in p else "escaped"
                res = {**res, "outcome": kind, "detail": f"{p} appeared ({res.get('outcome')} otherwise)"}
        rec = {k: case[k] for k in ("id", "family", "op", "fixture", "expect")}
        rec.update({k: v for k, v in res.items() if k not in ("id", "saved")})
        results.append(rec)
        if res.get("saved") and len(oracle) < keras:
            oracle.append((rec, case, res["saved"]))
        elif not keep:
            shutil.rmtree(case["dir"], ignore_errors=True)
        if progress:
            progress(len(results), len(todo), rec)

    pool(todo, make, finish, WORKER, jobs, int(mem_gib * (1 << 30)), env, timeout, run_dir)
    if oracle:
        pool(oracle, _oracle_job, _oracle_done, ORACLE, jobs, 12 << 30, env, max(timeout, 60.0), run_dir, "oracle")
        if not keep:
            for _, case, _ in oracle:
                shutil.rmtree(case["dir"], ignore_errors=True)
    report = {"seed": seed, "cases": len(results), "seconds": round(time.monotonic() - t0, 1),
              "limits": {"timeout_s": timeout, "h5py_timeout_s": h5py_timeout, "memory_gib": mem_gib},
              "keras_checked": len(oracle), "table": table_counts(results), "findings": findings(results),
              "results": results}
    if not keep:
        shutil.rmtree(run_dir, ignore_errors=True)
    return report


def _oracle_job(item):
    rec, case, saved = item
    return {"id": case["id"], "dir": case["dir"], "path": case["path"], "input": case["input"],
            "writer": case["fixture"].split("/")[1], "rec": rec, "saved": saved}


def _oracle_done(job: dict, res: dict) -> None:
    """Keras's answer on a damaged file kerasless answered for: a different result is a silent wrong answer."""
    import pickle

    from .worker import compare

    rec = job["rec"]
    if res["outcome"] != "keras-ok":
        rec["keras"] = f"{res['outcome']}: {res.get('etype', '')} {res.get('message', res.get('detail', ''))[:200]}"
        if res["outcome"] == "keras-error":
            rec["outcome"] = "lenient"  # Keras refuses what kerasless answers for: reported, not a failure
        return
    with open(res["y"], "rb") as f:
        want = pickle.load(f)
    with open(job["saved"], "rb") as f:
        got = pickle.load(f)
    diff = compare(got, want, rel=1e-4)
    rec["keras"] = f"keras answers: {'differs: ' + diff if diff else 'same'}"
    if diff:
        rec.update(outcome="wrong", detail=f"vs Keras on the same damaged file: {diff}")


def _crash_frame(tail: str) -> str:
    """The innermost kerasless frame of a faulthandler dump (innermost first), else the innermost frame."""
    lines = [ln.strip() for ln in tail.splitlines() if ln.strip().startswith("File ")]
    ours = [ln for ln in lines if "/kerasless/" in ln]
    frame = (ours or lines or [""])[0].replace('File "', "").replace('", line ', ":")
    return frame.rsplit("/src/", 1)[-1]


def table_counts(results) -> dict:
    counts: dict = defaultdict(Counter)
    for r in results:
        counts[r["family"]][r["outcome"]] += 1
    return {f: dict(c) for f, c in sorted(counts.items())}


def findings(results) -> list[dict]:
    """Bad outcomes deduplicated by (outcome, exception type, location), with a few example case ids."""
    groups: dict = {}
    for r in results:
        if r["outcome"] not in BAD + ("harness",):
            continue
        key = (r["outcome"], r.get("etype", ""), r.get("where", "") if r["outcome"] != "wrong" else r.get("op", "")
               .split(" ")[0])
        g = groups.setdefault(key, {"outcome": key[0], "etype": key[1], "where": r.get("where", ""), "count": 0,
                                    "examples": [], "message": r.get("message", ""), "detail": r.get("detail", "")})
        g["count"] += 1
        if len(g["examples"]) < 5:
            g["examples"].append(f"{r['id']} [{r.get('fixture')}] {r.get('op', '')}"[:200])
    return sorted(groups.values(), key=lambda g: (BAD.index(g["outcome"]) if g["outcome"] in BAD else 99,
                                                  -g["count"]))


def format_table(report: dict) -> str:
    tab = report["table"]
    cols = [o for o in OUTCOMES if any(o in c for c in tab.values())]
    w = max([len(f) for f in tab] + [6])
    lines = [f"{'family':<{w}} " + " ".join(f"{c:>8}" for c in cols) + f" {'total':>7}"]
    totals: Counter = Counter()
    for fam, c in tab.items():
        totals.update(c)
        lines.append(f"{fam:<{w}} " + " ".join(f"{c.get(o, 0):>8}" for o in cols) + f" {sum(c.values()):>7}")
    lines.append(f"{'total':<{w}} " + " ".join(f"{totals.get(o, 0):>8}" for o in cols) + f" {sum(totals.values()):>7}")
    return "\n".join(lines)


def format_findings(report: dict, limit: int = 40) -> str:
    out = []
    for g in report["findings"][:limit]:
        out.append(f"- {g['outcome']} x{g['count']}: {g['etype']} at {g['where'] or '?'}: "
                   f"{(g['message'] or g['detail'])[:200]!r}")
        for e in g["examples"][:3]:
            out.append(f"    {e}")
    seed = report["seed"]
    if out:
        out.append(f"reproduce one: PYTHONPATH=src:tests python -m fuzz --seed {seed} --only <id> --keep /tmp/case")
    return "\n".join(out)


def findings_markdown(report: dict) -> str:
    """The distinct findings as a Markdown list (docs/fuzz-findings.md), each with a regenerating command."""
    seed = report["seed"]
    out = [f"{report['cases']} cases, seed {seed}, {report['seconds']} s.", "", "```", format_table(report), "```", ""]
    for g in report["findings"]:
        first = g["examples"][0].split(" ")[0] if g["examples"] else "?"
        out.append(f"- **{g['outcome']}** x{g['count']} — `{g['etype'] or '-'}` at `{g['where'] or '?'}`: "
                   f"{(g['message'] or g['detail'])[:220]!r}".replace("\n", " "))
        for e in g["examples"][:3]:
            out.append(f"  - `{e}`")
        out.append(f"  - reproduce: `PYTHONPATH=src:tests python -m fuzz --seed {seed} --only {first} --keep /tmp/case`")
    return "\n".join(out) + "\n"
