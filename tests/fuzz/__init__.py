"""Fuzz targets (atheris) and their corpus; replayed by tests/test_fuzz.py."""
