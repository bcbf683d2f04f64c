"""Benchmarks for the gateway: ``python -m bench.checks`` (``make bench``). See bench/README.md."""
