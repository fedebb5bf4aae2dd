"""Benchmarks (scripts/bench); not part of the test suite."""
