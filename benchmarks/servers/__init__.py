"""Echo servers for the benchmark peers; each is run as ``python -m benchmarks.servers.NAME``."""
