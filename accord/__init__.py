"""Accord: an open-source, real-time customer data platform with its own campaign engine."""

__version__ = "0.1.0"
