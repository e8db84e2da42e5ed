"""Side-by-side benchmarks of trioproto and its peers: ``python -m benchmarks``."""
