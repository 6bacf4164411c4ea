"""Prefect tasks: tool calls (SQL, HTTP, SMTP, pandas) and generation calls, small and typed."""
