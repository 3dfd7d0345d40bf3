"""Vendor connectors: one folder per vendor with the same files (client, mapping, simulator-free)."""
