from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.director.builders import APP, ENABLED, make_service
from zen_lead.constants import (
    ANNOTATION_ENABLED,
    ANNOTATION_LEADER_SERVICE_NAME,
    ANNOTATION_LEADER_SERVICE_TYPE,
    ANNOTATION_MIN_READY_DURATION,
    ANNOTATION_STICKY,
)
from zen_lead.director.core import (
    ANNOTATIONS,
    ConfigProblem,
    DirectorConfig,
    ParsedConfig,
    is_dns1035_label,
    is_opted_in,
    mentions_zen_lead,
    parse_config,
    told_problems,
)


def parse(
    annotations: dict[str, str],
    *,
    type: str = "ClusterIP",
    cluster_ip: str | None = None,
    selector: dict[str, str] | None = APP,
) -> ParsedConfig:
    return parse_config(
        make_service(annotations=annotations, type=type, cluster_ip=cluster_ip, selector=selector)
    )


def test_defaults() -> None:
    config, problems = parse(ENABLED)
    assert config == DirectorConfig(enabled=True, leader_service_name="web-leader")
    assert config.sticky is True
    assert config.min_ready_seconds == 0.0
    assert config.leader_service_type == "ClusterIP"
    assert problems == ()


def test_absent_and_false_are_quietly_disabled() -> None:
    assert parse({}) == (DirectorConfig(enabled=False, leader_service_name="web-leader"), ())
    assert parse({ANNOTATION_ENABLED: "false"}).problems == ()
    assert not parse({ANNOTATION_ENABLED: "false"}).config.enabled


@pytest.mark.parametrize("value", ["True", "TRUE", "yes", "Y", "1", "on", " true", "False", "no", "0", "off"])
def test_yes_no_spelled_otherwise_is_disabled_and_reported_with_the_exact_value(value: str) -> None:
    config, problems = parse({ANNOTATION_ENABLED: value})
    assert not config.enabled
    assert len(problems) == 1
    assert problems[0].key == ANNOTATION_ENABLED
    assert problems[0].value == value
    assert '"true"' in problems[0].message


def test_other_enabled_values_are_reported_too() -> None:
    config, problems = parse({ANNOTATION_ENABLED: "please"})
    assert not config.enabled
    assert [p.key for p in problems] == [ANNOTATION_ENABLED]


def test_external_name_services_cannot_be_opted_in() -> None:
    config, problems = parse(ENABLED, type="ExternalName", selector=None)
    assert not config.enabled
    assert [(p.key, p.reason) for p in problems] == [(ANNOTATION_ENABLED, "UnsupportedServiceType")]
    assert "no leader Service is made" in problems[0].message


def test_a_service_that_is_not_opted_in_is_told_only_about_a_malformed_enabled_value() -> None:
    typo = {ANNOTATION_STICKY: "maybe"}
    opted_out = parse_config(make_service(annotations={ANNOTATION_ENABLED: "false", **typo}))
    assert [p.key for p in opted_out.problems] == [ANNOTATION_STICKY]
    assert told_problems(opted_out) == ()
    malformed = parse_config(make_service(annotations={ANNOTATION_ENABLED: "yes", **typo}))
    assert [p.key for p in told_problems(malformed)] == [ANNOTATION_ENABLED]
    opted_in = parse_config(make_service(annotations={**ENABLED, **typo}))
    assert told_problems(opted_in) == opted_in.problems
    assert [p.reason for p in opted_in.problems] == ["InvalidAnnotation"]


def test_opt_in_helpers() -> None:
    assert is_opted_in(ENABLED)
    assert not is_opted_in({ANNOTATION_ENABLED: "True"})
    assert not is_opted_in({})
    assert mentions_zen_lead({ANNOTATION_STICKY: "x"})
    assert not mentions_zen_lead({"zen-lead.io": "x", "example.com/zen-lead.io/x": "y"})


def test_custom_leader_service_name() -> None:
    config, problems = parse({**ENABLED, ANNOTATION_LEADER_SERVICE_NAME: "primary"})
    assert config.leader_service_name == "primary"
    assert problems == ()


@pytest.mark.parametrize("value", ["Primary", "primary.svc", "1primary", "p" * 64, "", "web"])
def test_invalid_or_self_leader_service_names_fall_back_to_the_default(value: str) -> None:
    config, problems = parse({**ENABLED, ANNOTATION_LEADER_SERVICE_NAME: value})
    assert config.leader_service_name == "web-leader"
    assert [p.key for p in problems] == [ANNOTATION_LEADER_SERVICE_NAME]


def test_sticky() -> None:
    assert parse({**ENABLED, ANNOTATION_STICKY: "false"}) == (
        DirectorConfig(enabled=True, leader_service_name="web-leader", sticky=False),
        (),
    )
    config, problems = parse({**ENABLED, ANNOTATION_STICKY: "no"})
    assert config.sticky is True
    assert problems == (ConfigProblem(ANNOTATION_STICKY, "no", 'expected "true" or "false"; using "true"'),)


@pytest.mark.parametrize(("value", "seconds"), [("0", 0.0), ("1m30s", 90.0), ("500ms", 0.5)])
def test_min_ready_duration(value: str, seconds: float) -> None:
    config, problems = parse({**ENABLED, ANNOTATION_MIN_READY_DURATION: value})
    assert config.min_ready_seconds == seconds
    assert problems == ()


@pytest.mark.parametrize("value", ["-5s", "30", "soon", "1d"])
def test_negative_or_invalid_min_ready_is_zero_and_reported(value: str) -> None:
    config, problems = parse({**ENABLED, ANNOTATION_MIN_READY_DURATION: value})
    assert config.min_ready_seconds == 0.0
    assert [p.key for p in problems] == [ANNOTATION_MIN_READY_DURATION]


@pytest.mark.parametrize("value", ["ClusterIP", "NodePort", "LoadBalancer"])
def test_leader_service_type(value: str) -> None:
    config, problems = parse({**ENABLED, ANNOTATION_LEADER_SERVICE_TYPE: value}, type="LoadBalancer")
    assert config.leader_service_type == value
    assert problems == ()


def test_the_leader_service_is_cluster_ip_whatever_the_source_type() -> None:
    assert parse(ENABLED, type="LoadBalancer").config.leader_service_type == "ClusterIP"
    assert parse(ENABLED, type="NodePort").config.leader_service_type == "ClusterIP"


def test_invalid_leader_service_type_is_cluster_ip() -> None:
    config, problems = parse({**ENABLED, ANNOTATION_LEADER_SERVICE_TYPE: "nodeport"})
    assert config.leader_service_type == "ClusterIP"
    assert [p.key for p in problems] == [ANNOTATION_LEADER_SERVICE_TYPE]


def test_headless_sources_get_headless_cluster_ip_leaders() -> None:
    config, problems = parse(ENABLED, cluster_ip="None")
    assert config.headless
    assert problems == ()
    config, problems = parse({**ENABLED, ANNOTATION_LEADER_SERVICE_TYPE: "NodePort"}, cluster_ip="None")
    assert config.leader_service_type == "ClusterIP"
    assert [p.key for p in problems] == [ANNOTATION_LEADER_SERVICE_TYPE]


def test_unknown_zen_lead_annotations_are_reported() -> None:
    _, problems = parse({**ENABLED, "zen-lead.io/stiky": "false"})
    assert [p.key for p in problems] == ["zen-lead.io/stiky"]


def test_every_annotation_in_the_table_is_a_known_key() -> None:
    keys = [spec.key for spec in ANNOTATIONS]
    assert keys == [
        ANNOTATION_ENABLED,
        ANNOTATION_LEADER_SERVICE_NAME,
        ANNOTATION_STICKY,
        ANNOTATION_MIN_READY_DURATION,
        ANNOTATION_LEADER_SERVICE_TYPE,
    ]


annotation_values = st.one_of(st.text(max_size=80), st.sampled_from(["true", "false", "0", "1m", "NodePort"]))
annotation_maps = st.dictionaries(
    st.sampled_from([spec.key for spec in ANNOTATIONS] + ["zen-lead.io/other", "unrelated"])
    | st.text(max_size=20),
    annotation_values,
    max_size=6,
)


@settings(max_examples=300)
@given(
    annotations=annotation_maps,
    name=st.sampled_from(["web", "a" * 63, "x"]),
    cluster_ip=st.sampled_from([None, "None", "10.0.0.1"]),
    type=st.sampled_from(["ClusterIP", "ExternalName"]),
)
def test_parsing_never_raises_and_always_yields_a_usable_config(
    annotations: dict[str, str], name: str, cluster_ip: str | None, type: str
) -> None:
    config, problems = parse_config(
        make_service(name, annotations=annotations, cluster_ip=cluster_ip, type=type)
    )
    assert is_dns1035_label(config.leader_service_name)
    assert config.leader_service_name != name
    assert config.min_ready_seconds >= 0
    assert config.leader_service_type in ("ClusterIP", "NodePort", "LoadBalancer")
    assert config.enabled == (annotations.get(ANNOTATION_ENABLED) == "true" and type != "ExternalName")
    assert all(isinstance(p.message, str) and p.message for p in problems)
