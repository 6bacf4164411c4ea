"""Browser tests: the Prefect UI driven in headless Chromium against a whole `agentflows up` stack."""
