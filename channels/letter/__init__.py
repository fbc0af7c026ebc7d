"""Postal letters: HTML rendered to PDF, handed to a print-and-mail vendor."""
