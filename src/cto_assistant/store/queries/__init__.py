"""Query functions over the store, one module per domain (keyword-only, plain results)."""
