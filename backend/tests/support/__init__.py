"""Test support shared by the tests, the benchmarks and the end-to-end server script: paths, the
tiny test model's settings, live API servers, generated images, test weights, real photo sets,
the reference implementations' harness. Not part of the runtime package."""
