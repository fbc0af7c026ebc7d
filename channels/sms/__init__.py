"""SMS providers, encoding and segment counting."""
