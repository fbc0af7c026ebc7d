"""reminder-gateway: HTTP API, services, store, worker and command line."""

__version__ = "0.1.0"
