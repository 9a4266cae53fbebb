"""Server-rendered HTML: the operator console (``/console``), signed in with ``SCIMHUB_ADMIN_TOKEN``, and the
IdP setup pages (``/setup/<link>``), opened by a setup link; both over the same protocol and store layers as
the CLI and the admin API."""
