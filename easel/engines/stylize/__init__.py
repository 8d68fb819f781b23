"""Stylization engines."""
