"""Conversation signal facts: how close is the claim message to a known fraudulent template?

The fraud team's templates (`agentflows.fraud_templates`) are read fresh for every batch, so a new
file counts from the next run. Similarity is the cosine of TF-IDF vectors over character n-grams
(scikit-learn), hashed (no vocabulary to fit) and weighted by an IDF fitted once on a fixed
reference corpus of ordinary claim messages (`agentflows/data/fraud/reference_corpus.txt`). So a
message's similarity to a template example depends on those two texts alone: never on the other
claims in the batch, and never on the other templates (adding a template changes no similarity to
the others; the earlier model, fitted on the template texts, shifted every score when a template
was added). Paraphrases with typos or inserted order numbers still match, and n-grams every honest
message uses ("my order", "the parcel") weigh little. The closest
templates, with their version hash and the example they matched, go to the agent, which judges
whether the match is a real tactic or only shared words.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from scipy.sparse import csr_matrix
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
from sqlalchemy import Connection, select

from agentflows.db.fraud import Claim
from agentflows.fraud_templates import REFERENCE_CORPUS, TemplateSet, load_templates
from agents.fraud.models import ConversationFacts, TemplateMatch
from tasks.fraud.common import frame

TOP_MATCHES = 3
MESSAGE_CHARS = 1200


class MessageEmbedder:
    """Texts -> l2-normalised TF-IDF vectors over hashed char 3-5-grams, the IDF fixed by the reference corpus."""

    def __init__(self, reference: list[str]) -> None:
        self.hashing = HashingVectorizer(
            analyzer="char_wb", ngram_range=(3, 5), n_features=2**20, alternate_sign=False, norm=None
        )
        self.weights = TfidfTransformer(sublinear_tf=True).fit(self.hashing.transform(reference))

    def __call__(self, texts: Sequence[str]) -> csr_matrix:
        return self.weights.transform(self.hashing.transform(list(texts)))


@lru_cache(maxsize=1)
def embedder() -> MessageEmbedder:
    """The one embedder (fitted once per process on the shipped reference corpus)."""
    lines = REFERENCE_CORPUS.read_text(encoding="utf-8").splitlines()
    return MessageEmbedder([line for line in lines if line.strip() and not line.startswith("#")])


class TemplateMatcher:
    """Cosine similarity of messages to every template, the best example per template."""

    def __init__(self, templates: TemplateSet) -> None:
        self.templates = templates.templates
        self.owner = np.array([i for i, t in enumerate(self.templates) for _ in t.examples], dtype=int)
        self.examples = [e for t in self.templates for e in t.examples]
        self.matrix = embedder()(self.examples) if self.examples else None

    def match(self, messages: Sequence[str]) -> list[list[TemplateMatch]]:
        """For each message, its closest templates (best first, at most TOP_MATCHES)."""
        if self.matrix is None or not messages:
            return [[] for _ in messages]
        sims = (embedder()(messages) @ self.matrix.T).toarray()
        results: list[list[TemplateMatch]] = []
        for row in sims:
            per_template: dict[int, tuple[float, int]] = {}
            for j, sim in enumerate(row):
                owner = int(self.owner[j])
                if owner not in per_template or sim > per_template[owner][0]:
                    per_template[owner] = (float(sim), j)
            ranked = sorted(per_template.items(), key=lambda kv: -kv[1][0])[:TOP_MATCHES]
            results.append(
                [
                    TemplateMatch(
                        name=self.templates[i].name,
                        version=self.templates[i].version,
                        tactic=self.templates[i].tactic,
                        similarity=round(sim, 3),
                        closest_example=self.examples[j][:300],
                    )
                    for i, (sim, j) in ranked
                ]
            )
        return results


def compute_conversation(
    claim_ids: Sequence[int], conn: Connection, templates: TemplateSet | None = None
) -> dict[int, ConversationFacts]:
    """Conversation facts for a batch: one query and one similarity matrix.

    `templates` defaults to reading the configured folder now (what a run does); the batch paths
    pass one set so thousands of claims are compared with the same versions.
    """
    templates = templates if templates is not None else load_templates()
    claims = frame(
        conn, select(Claim.id.label("claim_id"), Claim.kind, Claim.message).where(Claim.id.in_(list(claim_ids)))
    )
    if claims.empty:
        return {}
    matcher = TemplateMatcher(templates)
    matches = matcher.match(claims["message"].fillna("").tolist())
    problems = [str(p) for p in templates.problems]
    return {
        int(row.claim_id): ConversationFacts(
            claim_id=int(row.claim_id),
            claim_kind=getattr(row.kind, "value", row.kind),
            message=(row.message or "")[:MESSAGE_CHARS],
            matches=found,
            templates_in_use=len(templates.templates),
            template_problems=problems,
        )
        for row, found in zip(claims.itertuples(index=False), matches, strict=True)
    }
