"""Fraud-check agents: six signal agents (one module each, same shape) and the orchestrator.

Signal agents interpret facts computed set-wise from SQL (`tasks.fraud`); they never query data
themselves. Each module has NAME, `assess(facts)` (the deterministic rule, which is also the offline
model's answer) and a factory keyed by the agent's workspace file and model spec; what each agent is
told is its workspace file `agents/<NAME>.yaml`. `rules` holds the hard rules, `config` parses the
workspace's `fraud/rules.yaml`.
"""
