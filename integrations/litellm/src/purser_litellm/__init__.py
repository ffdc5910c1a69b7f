"""Purser budget enforcement for the LiteLLM proxy."""

__version__ = "0.1.0"
