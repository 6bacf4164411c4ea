"""A reproducible marketplace with planted, labelled fraud and benign look-alikes.

5,000 customers, 50,000 orders with tracking, returns and payment incidents, and 2,000 claims,
about 8 % of them fraudulent (156), all from one seed. Three modules, because they change for
different reasons:

- `text`: the words (street names, claim messages) and the two message writers;
- `patterns`: each planted fraud pattern and benign look-alike as one generator of one shape,
  and the recipe's list of them (what is planted, how often, under which label);
- `builder`: the row primitives, the recipe that runs the patterns, and the bulk insert;

with `world` holding what they all share (clock, countries, carriers, offline cities). The draw
order is fixed: the README's fraud evaluation and the calibration file were fitted on this data.
"""

from agentflows.seed.marketplace.builder import SEED, Market, MarketBuilder, build_marketplace, seed_marketplace
from agentflows.seed.marketplace.patterns import PATTERNS, Pattern, PlantedClaim
from agentflows.seed.marketplace.world import EMAIL_DOMAIN, NOW

__all__ = [
    "EMAIL_DOMAIN",
    "NOW",
    "PATTERNS",
    "SEED",
    "Market",
    "MarketBuilder",
    "Pattern",
    "PlantedClaim",
    "build_marketplace",
    "seed_marketplace",
]
