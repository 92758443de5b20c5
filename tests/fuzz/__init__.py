"""The fuzz harness of issue 11: a seeded corpus of malformed model files and bad predict inputs made from the
committed fixtures (corpus.py over mutators.py), each case run in an isolated worker process with a memory cap and
a timeout (runner.py, worker.py), every outcome classified.

    PYTHONPATH=tests python -m fuzz --cases 10000            # make fuzz: the table and fuzz-report.json
    PYTHONPATH=tests python -m fuzz --only zip-00042 --keep /tmp/case   # regenerate and rerun one case
"""
