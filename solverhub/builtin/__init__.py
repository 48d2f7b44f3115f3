"""Solvers, problem kinds and datasets that ship with the core, registered as an ordinary plugin."""
