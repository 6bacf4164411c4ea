"""Fraud-check agents: six signal agents (one module each, same shape) and the orchestrator.

Signal agents interpret facts computed set-wise from SQL (`tasks.fraud`); they never query data
themselves. Each module has NAME, INSTRUCTIONS, `assess(facts)` (the deterministic rule, which is
also the offline model's answer) and a factory keyed by model spec.
"""
