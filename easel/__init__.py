"""Easel: a self-hosted, DashScope-compatible image-editing server."""

__version__ = "0.1.0"
