"""Peer test oracles re-expressed in our own rows."""
