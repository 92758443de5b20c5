"""Java target: see target.py."""
