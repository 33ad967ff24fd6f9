"""Benchmarks and the soak: ``make bench``, ``make soak``; not part of CI."""
