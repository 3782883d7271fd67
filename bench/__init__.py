"""Benchmarks: each module prints a Markdown table of one measurement (BENCHMARKS.md). Run from the
project root as `python -m bench.NAME [--quick]`; the tests import the shared helpers (a Streamlit
server, Chromium, a digit drawn as a user would) from here.
"""
