"""`python -m agentflows.cli`: the same as the `agentflows` console script."""

from agentflows.cli import main

main()
