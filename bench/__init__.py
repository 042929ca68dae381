"""Benchmarks of the production serving layout (``python bench/approvals.py --help``)."""
