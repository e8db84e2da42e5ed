"""Shared fixtures: trio mode is on for every test (pyproject.toml)."""
