"""Benchmarks of flask_healthcheck against its peers, under real gunicorn servers.

``python -m bench`` runs every scenario and writes ``bench/results/latest.json`` and the table in
``docs/benchmarks.rst``; ``python -m bench --smoke`` is a quick run that only proves the harness.
"""
