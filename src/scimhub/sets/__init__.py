"""RFC 9967 Security Event Tokens: each event of the outbox as a signed SET, pushed (RFC 8935)
or polled (RFC 8936) per stream. ``claims`` is pure; ``keys`` signs with joserfc."""
