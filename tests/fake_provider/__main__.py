"""``python -m tests.fake_provider --port P [--latency-ms ...] [--rpm ...]``: run the fake provider
standalone."""

import sys

from .server import main

sys.exit(main())
