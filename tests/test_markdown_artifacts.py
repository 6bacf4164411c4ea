"""Every artifact and pause form keeps its shape whatever text it shows (`agentflows/markdown.py`).

Each kind is rendered with hostile text in every place untrusted text reaches (multi-line CRM notes and
emails, `|`, backticks, `<script>`, very long URLs, `## heading` lines, list and quote markers), then parsed
with a real markdown parser (markdown-it-py with GFM tables, raw HTML on, as the Prefect UI passes HTML to
DOMPurify): every table row has the header's cell count, the only headings are ours, and the only HTML is
ours (`<br>`, the notes section), with the hostile text still there to read, escaped.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

from agentflows.markdown import (
    Abbrev,
    Markdown,
    md_cell,
    md_code,
    md_link,
    md_quote,
    md_table,
    md_table_artifact,
    md_text,
    shorten_url,
    source_cell,
)

LONG_URL = "https://www.evil.example/" + "/".join(f"segment-{i}" for i in range(40)) + "?utm=" + "x" * 200
HOSTILE = [
    "first line\nsecond line\n\nafter a blank line",
    "pipes | in | the || middle |",
    "a `code span | with a pipe` and an unclosed ` backtick",
    "<script>alert('x')</script> and <img src=x onerror=alert(1)> <b>bold</b>",
    "## a heading line\n# another\nTitle\n===\n---",
    "- a list item\n1. numbered\n> a quote\n    indented code\n```fence",
    "[a link](javascript:alert(1)) ![img](x) **strong** _em_ ~~gone~~ \\| &lt;entity&gt; &amp;",
    "<details><summary>open me</summary>\n\nhidden</details>",
    LONG_URL,
    "x" * 500,
]
HOSTILE_TEXT = "\n".join(HOSTILE)
ALLOWED_TAGS = {"br", "details", "summary", "p", "b"}

parser = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


# --- what a rendered page must look like -------------------------------------------------------------


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self.tags.add(tag)


def html_tags(fragment: str) -> set[str]:
    tags = _Tags()
    tags.feed(fragment)
    return tags.tags


def walk(tokens: list[Token]) -> Iterator[Token]:
    for token in tokens:
        yield token
        yield from walk(token.children or [])


def tables(tokens: list[Token]) -> list[list[int]]:
    """For each table: the cell count of its header row, then of each body row."""
    found: list[list[int]] = []
    row: int | None = None
    for token in tokens:
        if token.type == "table_open":
            found.append([])
        elif token.type == "tr_open":
            row = 0
        elif token.type in ("th_open", "td_open"):
            assert row is not None
            row += 1
        elif token.type == "tr_close":
            found[-1].append(row or 0)
    return found


def check_page(
    markdown: str, *, headings: list[str], table_rows: list[int], links: tuple[str, ...] = (), rules: int = 0
) -> list[Token]:
    """Parse `markdown` and assert its structure is ours only; returns the tokens.

    `headings`: the start of each heading's text, in order. `table_rows`: the body row count of each table, in
    order; every row must have the header's cell count. `links` and `rules` (`---`): the ones we put there.
    """
    tokens = parser.parse(markdown)
    found = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert len(found) == len(headings), f"headings {found!r}, expected ones starting {headings!r}"
    for text, start in zip(found, headings, strict=True):
        assert text.startswith(start), (text, start)
    shapes = tables(tokens)
    assert [len(s) - 1 for s in shapes] == table_rows, shapes
    for shape in shapes:
        assert all(cells == shape[0] for cells in shape), f"a row with another cell count than the header: {shape}"
    everything = list(walk(tokens))
    assert [t.attrs["href"] for t in everything if t.type == "link_open"] == list(links)
    assert sum(t.type == "hr" for t in everything) == rules
    assert not {"code_block", "fence", "image"} & {t.type for t in everything}
    for token in everything:
        if token.type == "html_inline":
            assert token.content == "<br>", f"raw inline HTML: {token.content!r}"
        if token.type == "html_block":
            assert html_tags(token.content) <= ALLOWED_TAGS, token.content
            assert token.content.startswith("<details><summary>Full text of the long cells above"), token.content
        if token.type == "code_inline":  # only identifiers of ours
            assert not {"|", "<", "script", "heading"} & set(token.content.split()) | {
                c for c in "|<" if c in token.content
            }, token.content
    rendered = parser.render(markdown)
    assert "<script" not in rendered and "<img" not in rendered and "<details><summary>open me" not in rendered
    assert "&lt;script&gt;" in rendered or "script" not in markdown  # the hostile text is there, escaped
    return tokens


def code_spans(tokens: list[Token]) -> list[str]:
    return [t.content for t in walk(tokens) if t.type == "code_inline"]


def begins_with_a_link(markdown: str) -> bool:
    """The page's first paragraph is a link (bold), and nothing comes before it."""
    first = parser.parse(markdown)[1]
    return [c.type for c in first.children or [] if c.content or c.type != "text"][:2] == ["strong_open", "link_open"]


def text_of(tokens: list[Token]) -> str:
    return " ".join(t.content for t in walk(tokens) if t.type == "text")


# --- the building blocks -------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", HOSTILE)
def test_a_cell_is_one_line_that_shows_its_text(text: str) -> None:
    cell = md_cell(text)
    assert "\n" not in cell
    [paragraph] = [t for t in parser.parse(cell) if t.type == "inline"]  # one paragraph, nothing else
    assert {t.type for t in walk([paragraph])} <= {"inline", "text", "html_inline", "softbreak"}
    shown = text_of([paragraph]).replace(" ", "")
    for word in ("script", "heading", "pipe", "javascript", "segment-39"):
        if word in text:
            assert word in shown


def test_a_cell_is_cut_past_its_limit() -> None:
    assert md_cell("abcdefghij", limit=5) == "abcd…"
    assert md_cell("ab|cdefgh", limit=4) == "ab\\|…"  # cut before escaping: never half an escape
    assert md_cell("short", limit=5) == "short"


def test_a_table_keeps_every_row_and_puts_long_cells_below() -> None:
    rows = [(str(i), text, Abbrev(shorten_url(LONG_URL), LONG_URL)) for i, text in enumerate(HOSTILE)]
    markdown = md_table(["n", "text", "source"], rows, limit=40)
    tokens = check_page(markdown, headings=[], table_rows=[len(HOSTILE)])
    [details] = [t.content for t in tokens if t.type == "html_block"]
    assert "x" * 500 in details and "segment-39" in details  # the full text is below the table
    assert "… (full text: note 1 below) | evil.example/…/segment-39… (full: note 2 below) |" in markdown
    assert "&lt;script&gt;" in details  # escaped there too
    with pytest.raises(ValueError, match="row 1 has 2 cells"):
        md_table(["a", "b", "c"], [("1", "2")])
    with pytest.raises(ValueError, match="one line"):
        md_table(["a"], [(Markdown("a | b"),)])


def test_block_text_keeps_its_lines_and_adds_no_structure() -> None:
    tokens = check_page(md_text(HOSTILE_TEXT), headings=[], table_rows=[])
    assert {t.type for t in tokens} <= {"paragraph_open", "inline", "paragraph_close"}
    assert "hardbreak" in {t.type for t in walk(tokens)}  # line breaks kept
    quoted = check_page(md_quote(HOSTILE_TEXT), headings=[], table_rows=[])
    assert [t.type for t in quoted].count("blockquote_open") == 1


def test_our_own_markup_goes_in_as_it_is() -> None:
    assert md_code("crm:activity:12") == "`crm:activity:12`"
    assert md_code("a`b|c") == md_cell("a`b|c")  # no code span that could hide an escape
    check_page(
        md_link("open (it)", "http://127.0.0.1:4200/a b(c)"), headings=[], table_rows=[],
        links=("http://127.0.0.1:4200/a%20b%28c%29",),
    )  # fmt: skip
    assert source_cell("crm:activity:12") == "crm:activity:12"
    short = source_cell("web:" + LONG_URL)
    assert isinstance(short, Abbrev) and short.short.startswith("web: evil.example/…/") and len(short.short) <= 45


# --- every artifact kind, with hostile text wherever untrusted text goes ------------------------------------


def hostile_line(i: int) -> str:
    return HOSTILE[i % len(HOSTILE)]


def test_the_outreach_drafts_artifact_and_form(monkeypatch: pytest.MonkeyPatch) -> None:
    from agents.outreach.brief import EmailDrafts, EmailVariant, Fact, ProspectBrief, ProspectProfile, StyleExample
    from flows.prospect_outreach import drafts_markdown, form_description

    profile = ProspectProfile(
        contact_id=1, name="Ana | <b>Lee</b>", role="## CTO", seniority="c", department="eng", account_id=2,
        company="Acme `Corp`\nInc", domain="acme.example", industry="x", employees=10, region="EU", is_customer=False,
    )  # fmt: skip
    facts = [Fact(id=f"F{i}", text=hostile_line(i), source="web:" + LONG_URL) for i in range(1, 11)]
    facts.append(Fact(id="F11", text="a plain fact", source="crm:activity:12"))
    brief = ProspectBrief(
        summary=HOSTILE_TEXT, facts=facts, pains=HOSTILE[:3], web_source="used: " + LONG_URL, prior_outreach=HOSTILE
    )
    variants = [
        EmailVariant(subject=f"## subject {i} | <script>", body=HOSTILE_TEXT, angle=f"angle `{i}`", facts_used=["F1"])
        for i in (1, 2, 3)
    ]
    examples = [StyleExample(kind="edited", ref="crm:activity:3", reviewer="<i>Rev</i>", final_body=HOSTILE_TEXT)]
    markdown = drafts_markdown(
        profile, brief, "technical-buyer", "offline", EmailDrafts(variants=variants), "0123abcd", "run-1", examples
    )
    tokens = check_page(
        markdown,
        headings=["Outreach to", "Brief", "Prior outreach", "Reviewer examples", "Variant 1", "Variant 2", "Variant 3"],
        table_rows=[11],
        rules=1,
    )
    assert "F11" in code_spans(tokens) and "`crm:activity:12`" not in markdown.split("crm:activity:12")[0][-2:]
    assert "web: evil.example/…/" in markdown  # the source column shows a short URL; the whole one is a note
    [details] = [t.content for t in tokens if t.type == "html_block"]
    assert "segment-39" in details
    assert all(len(line) < 400 for line in markdown.split("\n") if line.startswith("| F"))  # no row runs off

    form = form_description(
        profile, "offline", EmailDrafts(variants=variants), "http://127.0.0.1:4200/artifacts/artifact/1"
    )
    check_page(
        form, headings=["Ana", "Variant 1", "Variant 2", "Variant 3"], table_rows=[],
        links=("http://127.0.0.1:4200/artifacts/artifact/1",),
    )  # fmt: skip
    assert begins_with_a_link(form)


def fraud_case() -> tuple[Any, Any]:
    from agents.fraud.models import CaseVerdict, ClaimSummary, Evidence, Signal, TemplateMatch, Verdict

    claim = ClaimSummary(
        claim_id=7, order_id=8, customer_id=9, kind="not_received", message=HOSTILE_TEXT, amount_claimed=10.0,
        order_amount=20.0, opened_at=datetime(2026, 1, 2, tzinfo=UTC),
    )  # fmt: skip
    names = ["address", "return_distance", "customer", "tracking", "payment", "conversation"]
    signals = [
        Signal(
            name=name,  # type: ignore[arg-type]
            status="failed" if name == "payment" else "ok",
            score=0.5,
            rule_score=0.1 * i,
            evidence=[Evidence(ref=f"order:{j}|x", detail="some detail") for j in range(8)],
            summary=hostile_line(i),
            error=HOSTILE_TEXT if name == "payment" else None,
        )
        for i, name in enumerate(names)
    ]
    verdict = CaseVerdict(
        claim_id=7, decision="review", deterministic_risk=0.7,
        proposal=Verdict(risk_score=0.2, decision="clear", rationale=HOSTILE_TEXT), model="offline",
        rule="rule 2: ## not a heading | pipe", signals=signals, digest="0123abcd",
        templates=[TemplateMatch(name="t", version="v1", tactic=HOSTILE_TEXT, similarity=0.9, closest_example="x")],
    )  # fmt: skip
    return claim, verdict


def test_the_fraud_review_artifact_and_form() -> None:
    from flows.fraud_check import review_description, verdict_markdown

    claim, verdict = fraud_case()
    markdown = verdict_markdown(claim, verdict, "run-1")
    tokens = check_page(
        markdown, headings=["Fraud check: case 7", "Signals", "Rationale", "Templates"], table_rows=[6], rules=1
    )
    assert "| payment | **FAILED** |" in markdown
    [details] = [t.content for t in tokens if t.type == "html_block"]
    assert "order:7|x" in details  # all evidence refs are below the table, the table shows the first four

    form = review_description(claim, verdict, "http://127.0.0.1:4200/artifacts/artifact/2")
    check_page(form, headings=[], table_rows=[], links=("http://127.0.0.1:4200/artifacts/artifact/2",))
    assert begins_with_a_link(form)


def test_the_landing_plan_artifact() -> None:
    from agents.landing.plan import ChannelIdea, MarketingPlan, Phase
    from agents.outreach.brief import Fact
    from flows.landing_plan import plan_markdown

    plan = MarketingPlan(
        company="## Acme | <script>",
        positioning=HOSTILE_TEXT[:800],
        facts=[Fact(id=f"F{i}", text=hostile_line(i), source="web:" + LONG_URL) for i in range(1, 6)],
        channel_ideas=[
            ChannelIdea(channel="c `x`", idea=HOSTILE_TEXT[:600], rationale=HOSTILE_TEXT[-600:], facts_used=["F1"])
        ]
        * 3,
        plan=[Phase(days=d, focus="## f", actions=HOSTILE[:2], success_metric="| m") for d in (30, 60, 90)],  # type: ignore[arg-type]
        caveats=HOSTILE,
    )
    check_page(
        plan_markdown(plan), headings=["Marketing plan for", "Channels", "30/60/90", "Facts", "Caveats"], table_rows=[5]
    )


def check_table_artifact(table: list[dict[str, object]], columns: list[str]) -> None:
    """A table artifact: every row has every column; each string cell, rendered on its own (as the Prefect UI
    renders them), is one paragraph of text with no HTML but `<br>`."""
    assert table, "no rows"
    for row in table:
        assert list(row) == columns
        for value in row.values():
            if isinstance(value, str) and value:
                tokens = parser.parse(value)
                assert [t.type for t in tokens] == ["paragraph_open", "inline", "paragraph_close"], value
                assert {t.type for t in walk(tokens)} <= {"paragraph_open", "inline", "paragraph_close", "text",
                                                           "html_inline", "softbreak"}, value  # fmt: skip
                assert all(t.content == "<br>" for t in walk(tokens) if t.type == "html_inline"), value


def test_the_usage_artifact(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    import tasks.usage as usage

    rows = [
        {"agent": text, "model": "## model", "requests": 1, "input_tokens": 2, "output_tokens": 3, "cost_usd": None,
         "priced_requests": 0}
        for text in HOSTILE
    ]  # fmt: skip
    published: list[list[dict[str, object]]] = []

    async def capture(table: list[dict[str, object]], **_: object) -> None:
        published.append(table)

    monkeypatch.setattr(usage, "usage_rows", lambda **_: rows)
    monkeypatch.setattr(usage, "acreate_table_artifact", capture)
    asyncio.run(usage.publish_usage.fn("run-1"))
    [table] = published
    check_table_artifact(table, list(rows[0]))
    assert table[0]["requests"] == 1 and table[0]["cost_usd"] is None  # numbers stay numbers


def test_the_outreach_and_sweep_summaries() -> None:
    from flows.fraud_sweep import SweepItem, sweep_table
    from flows.prospect_outreach import ProspectOutcome, summary_table

    outcomes = [
        ProspectOutcome(prospect_id=i, flow_run_id=None, outcome="failed", error=t) for i, t in enumerate(HOSTILE)
    ]
    outcomes.append(ProspectOutcome(prospect_id=99, flow_run_id="r", outcome="sent", writer="technical-buyer"))
    check_table_artifact(summary_table(outcomes), list(ProspectOutcome.model_fields))
    items = [SweepItem(case_id=i, outcome="failed", error=t) for i, t in enumerate(HOSTILE)]
    check_table_artifact(sweep_table(items), list(SweepItem.model_fields))
    assert md_table_artifact([{"a": 1}, {"b": "x"}]) == [{"a": 1, "b": None}, {"a": None, "b": "x"}]


def test_the_workspace_comparison_outreach_half() -> None:
    """Names, routing reasons, errors and example drafts come from CRM data and the models' output."""
    from types import SimpleNamespace

    from agents.outreach.brief import EmailDrafts, EmailVariant
    from tasks.workspace_eval import OutreachSide, ProspectResult, outreach_markdown

    drafts = EmailDrafts(
        variants=[EmailVariant(subject=f"## s{i} | `x`", body=HOSTILE_TEXT[:3000], angle="an angle",
                               facts_used=["F1"]) for i in (1, 2, 3)]
    )  # fmt: skip

    def side(version: str, writer: str) -> OutreachSide:
        return OutreachSide(
            version=version,
            results=[
                ProspectResult(contact_id=i, who=hostile_line(i), writer=writer, reason=hostile_line(i + 1),
                               drafts=drafts if i % 2 else None, error=None if i % 2 else HOSTILE_TEXT)
                for i in range(6)
            ],
        )  # fmt: skip

    active = SimpleNamespace(writers={})
    proposed = SimpleNamespace(writers={"technical-buyer": SimpleNamespace(version="2")})
    markdown = outreach_markdown(active, proposed, side("a", "new-logo-executive"), side("b", "technical-buyer"))  # type: ignore[arg-type]
    check_page(markdown, headings=["Outreach, on 6 CRM prospects", "Writer `technical-buyer`"], table_rows=[7])
