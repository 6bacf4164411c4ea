"""Wiring: deployments (`prefect.yaml`, `serve.py`), the webhook receiver and `agentflows up`."""
