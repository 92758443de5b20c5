"""C target (target.py) and its hand-written runtime (runtime.c, runtime.h, harness.c)."""
