"""The operator console (``/console``): server-rendered pages over the same protocol and store
layers as the CLI and the admin API, signed in with ``SCIMHUB_ADMIN_TOKEN``."""
