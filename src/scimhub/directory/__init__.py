"""The normalized directory: what the host app reads about a tenant's users (pure; no I/O)."""
