"""Renderers: pure functions from report values to text. Only they know about rich."""
