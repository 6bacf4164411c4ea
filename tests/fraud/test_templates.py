"""The fraud team's template folder: read fresh at every run, bad files skipped with a named warning."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from agentflows.fraud_templates import TemplateError, add_template, load_templates
from tasks.fraud.signals import compute_facts, rule_signal
from tests.fraud.builders import Shop

NEW_TACTIC = """---
name: gift-card-swap
tactic: Asks for the refund as gift cards sent to a new email
claim_kinds: [refund_request]
---
Instead of a refund to my card, send me gift card codes to my new email address, my old mailbox was hacked.
"""
MESSAGE = "Instead of money back, email me gift card codes at my new address, my old mailbox was hacked."


def test_a_new_template_file_counts_from_the_very_next_run(shop: Shop, template_dir: Path) -> None:
    case = shop.claim(shop.order(shop.customer(), shop.address("1 Station Road")), "refund_request", MESSAGE)

    before = rule_signal("conversation", compute_facts("conversation", [case])[case])
    (template_dir / "gift-card-swap.md").write_text(NEW_TACTIC)
    after = rule_signal("conversation", compute_facts("conversation", [case])[case])

    version = {t.name: t.version for t in load_templates().templates}["gift-card-swap"]
    assert before.rule_score < 0.3
    assert after.rule_score >= 0.8
    assert f"template:gift-card-swap@{version}" in {e.ref for e in after.evidence}

    # Editing the file changes its version: a verdict always names the text it matched.
    (template_dir / "gift-card-swap.md").write_text(NEW_TACTIC + "\nGift cards only, to the new address.\n")
    edited = {t.name: t.version for t in load_templates().templates}["gift-card-swap"]
    assert edited != version


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("no header here, just text\n", "no YAML header"),
        ("---\nname: [unclosed\ntactic: x\n---\nexample\n", "does not parse"),
        ("---\nname: Bad Name\ntactic: x\n---\nexample\n", "`name` must be"),
        ("---\nname: no-examples\ntactic: x\n---\n\n", "no example messages"),
        ("---\nname: bad-kind\ntactic: x\nclaim_kinds: [stolen]\n---\nexample\n", "claim_kinds"),
    ],
)
def test_a_bad_template_is_skipped_with_a_warning_naming_the_file(
    template_dir: Path, caplog: pytest.LogCaptureFixture, content: str, reason: str
) -> None:
    (template_dir / "broken.md").write_text(content)
    with caplog.at_level(logging.WARNING, logger="agentflows.fraud_templates"):
        found = load_templates()
    assert [p.path.name for p in found.problems] == ["broken.md"]
    assert reason in found.problems[0].reason
    assert "broken.md" in caplog.text and reason in caplog.text
    assert len(found.templates) == 6, "the other templates still apply"


def test_duplicate_names_keep_the_first_file(template_dir: Path) -> None:
    (template_dir / "zz-copy.md").write_text((template_dir / "empty-box.md").read_text())
    found = load_templates()
    assert [str(p) for p in found.problems] == [
        "zz-copy.md: duplicate name 'empty-box' (already defined in empty-box.md)"
    ]


def test_add_writes_a_parsable_file_and_refuses_bad_or_existing_ones(template_dir: Path) -> None:
    path = add_template("gift-card-swap", "Refund as gift cards", [MESSAGE], ["refund_request"])
    assert path.parent == template_dir
    assert "gift-card-swap" in {t.name for t in load_templates().templates}
    with pytest.raises(TemplateError, match="exists already"):
        add_template("gift-card-swap", "again", [MESSAGE])
    with pytest.raises(TemplateError, match="`name` must be"):
        add_template("Gift Cards", "bad name", [MESSAGE])
    assert not list(template_dir.glob("_*")), "no temporary file left behind"


def test_the_default_folder_starts_with_the_shipped_samples(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from agentflows.fraud_templates import templates_dir
    from agentflows.settings import get_settings

    monkeypatch.setenv("AGENTFLOWS_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("AGENTFLOWS_FRAUD_TEMPLATES_DIR", raising=False)
    get_settings.cache_clear()
    try:
        folder = templates_dir()
        assert folder == tmp_path / "workspace" / "fraud" / "templates"
        assert len(load_templates(folder).templates) == 6
    finally:
        get_settings.cache_clear()
