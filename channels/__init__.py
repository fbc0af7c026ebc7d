"""Channels and their providers: one package per channel, one module per provider."""
