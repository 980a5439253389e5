"""The chart's values table is generated (deploy/render.py) and current; no Helm needed."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest
import yaml  # type: ignore[import-untyped]  # PyYAML comes with lightkube; no stubs installed

from tests.support.deploy import load_render

ROOT = Path(__file__).resolve().parents[3]
CHART = ROOT / "charts" / "zen-lead"


@pytest.fixture(scope="module")
def render() -> ModuleType:
    return load_render()


def test_readme_table_is_current(render: ModuleType) -> None:
    readme = (CHART / "README.md").read_text()
    assert render.readme_with_table(readme, render.values_table()) == readme, "run: python deploy/render.py"


def test_every_value_has_a_row_with_its_default(render: ModuleType) -> None:
    table = render.values_table()
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    schema = json.loads((CHART / "values.schema.json").read_text())
    rows = {row[0].strip("`"): row for row in render.value_rows(schema, values)}
    assert rows["controller.logLevel"][1] == '`"debug"` \\| `"info"` \\| `"warning"` \\| `"error"`'
    assert rows["replicaCount"][2] == "`2`"
    assert rows["watchNamespaces"][1] == "array of string"
    for key in values:
        assert any(k == key or k.startswith(key + ".") for k in rows), key
    assert table.count("\n") == len(rows) + 1


def test_a_value_without_description_is_refused(render: ModuleType) -> None:
    schema = {"properties": {"a": {"type": "string"}}}
    with pytest.raises(ValueError, match="a has no description"):
        list(render.value_rows(schema, {"a": ""}))


def test_a_documented_value_missing_from_values_yaml_is_refused(render: ModuleType) -> None:
    schema = {"properties": {"b": {"type": "string", "description": "B."}}}
    with pytest.raises(ValueError, match=r"b is in values\.schema\.json but not in values\.yaml"):
        list(render.value_rows(schema, {}))


def test_readme_without_markers_is_refused(render: ModuleType) -> None:
    with pytest.raises(ValueError, match="lacks the markers"):
        render.readme_with_table("# no markers\n", "| table |")
