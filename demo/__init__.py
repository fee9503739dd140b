"""A demo card program for local use, the test suite and the benchmarks (`manage.py seed_demo`).

Not part of the product: no product package imports it (tests/demo checks), it has no models,
URLs or admin, and installing it adds only the `seed_demo` command (docs/decisions.md, 63).
"""
