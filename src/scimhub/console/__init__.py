"""Server-rendered HTML: the operator console and the IdP setup pages (Jinja2, own CSS and JS)."""
