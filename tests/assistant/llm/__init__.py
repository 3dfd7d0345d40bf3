"""Tests of the optional LLM mode."""
