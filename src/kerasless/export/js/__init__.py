"""JS target (target.py), its hand-written runtime (runtime.js) and the node verification driver (driver.mjs)."""
