"""Tests of the pure analytics."""
