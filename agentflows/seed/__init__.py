"""Reproducible demo data for the project database."""
