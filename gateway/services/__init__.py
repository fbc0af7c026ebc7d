"""Use cases: each module takes the runtime and plain data, and does one job in transactions."""
