"""Tests of the fake model provider (the ``agentflows_fake_provider`` package in ``devtools/fake-provider/``)."""
