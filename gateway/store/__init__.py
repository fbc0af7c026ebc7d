"""Persistence: the schema, the engine and one module of queries per kind of record."""
