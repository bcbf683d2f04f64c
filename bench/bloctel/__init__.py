"""BLOCTEL at scale: ``python -m bench.bloctel`` (``make bench-bloctel``); see bench/README.md."""
