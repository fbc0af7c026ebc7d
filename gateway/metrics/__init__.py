"""Prometheus metrics of the worker and scheduler processes (the API serves its own `/metrics`).

`recorder` names every series and holds the hooks the code paths call, and `series` keeps them as
plain numbers. `gateway.exporter` reads queue depth and circuit states at scrape time and serves
each process's `GET /metrics` endpoint on METRICS_PORT.
"""
