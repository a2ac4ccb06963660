"""Benchmarks (not part of the installed package); run them as scripts, e.g. ``python benchmarks/ingest.py``."""
