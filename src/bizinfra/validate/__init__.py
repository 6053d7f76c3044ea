"""Offline validators of generated files: pure checks over documents, and functions that run the tools."""
