from __future__ import annotations

from pathlib import Path

from zen_lead.director.core import ANNOTATIONS
from zen_lead.director.core.reference import render_markdown

DOC = Path(__file__).resolve().parents[3] / "docs" / "annotations.md"


def test_the_committed_reference_is_generated_from_the_code() -> None:
    assert DOC.read_text(encoding="utf-8") == render_markdown(), (
        "docs/annotations.md is stale: run `python -m zen_lead.director.core.reference > docs/annotations.md`"
    )


def test_every_annotation_is_documented() -> None:
    text = render_markdown()
    assert all(f"`{spec.key}`" in text for spec in ANNOTATIONS)
