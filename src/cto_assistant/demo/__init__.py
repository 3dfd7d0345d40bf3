"""The demo company (Acme Cloud) and the vendor API simulators that serve it."""
