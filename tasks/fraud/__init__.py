"""Fraud-check tasks: set-wise signal facts (one module per signal), cases, decisions, risk, batches.

Every `compute_<signal>(claim_ids, conn)` reads a whole batch of claims with a fixed number of
queries (not one per claim) and returns `{claim_id: facts}`; the per-claim flow calls it with one
id, the evaluation and the benchmark with thousands.
"""
