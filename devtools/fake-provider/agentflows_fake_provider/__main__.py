"""Run the fake provider standalone: ``python -m agentflows_fake_provider --port P [--latency-ms ..]``."""

import sys

from .server import main

sys.exit(main())
