"""Shade's application side: configuration, the command line, the local service."""

__version__ = "0.1.0"
