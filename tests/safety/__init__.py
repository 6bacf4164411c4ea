"""Safety tests: untrusted input (prompt injection) and secrets."""
