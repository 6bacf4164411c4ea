"""Prospect outreach agents: researcher -> router -> one of four writers."""
