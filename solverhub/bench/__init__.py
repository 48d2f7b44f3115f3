"""Comparing methods on problem sets (the table runner; a result store, parallel
runs and reports build on it)."""
