"""Benchmarks: speed against a peer measured in the same run, on the same server.

Every number here is a ratio against a peer (pyVmomi, or the "floor": raw HTTP plus an
lxml parse) measured in the same process, interleaved per repetition, and reported as
medians. Nothing here is a test; no test asserts a timing. See docs/benchmarks.md.

- ``python -m benchmarks.bulk_fetch``: 10,000 VMs, six properties, from one vcsim.
- ``python -m benchmarks.import_time``: ``import spherekit`` in fresh interpreters.
"""
