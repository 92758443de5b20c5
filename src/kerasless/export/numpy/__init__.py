"""NumPy target (target.py) and its hand-written kernels (runtime.py)."""
