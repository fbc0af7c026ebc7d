"""The HTTP API (aiohttp): thin handlers that parse, call a service and answer."""
