"""``bench.pyspy``: a pure summary of py-spy's raw output (no process is profiled here)."""

from __future__ import annotations

from collections import Counter

from bench.pyspy import LAYERS, OWN_SHELL, layer_of, summarize
from hypothesis import given
from hypothesis import strategies as st

LOOP = "run (asyncio/runners.py:190);BaseEventLoop._run_once (asyncio/base_events.py:1884)"


def test_idle_samples_are_counted_apart_and_busy_ones_go_to_the_innermost_layer() -> None:
    lines = [
        f"{LOOP};EpollSelector.select (selectors.py:468) 50",
        # decision code called from the reconcile: decision, although the reconcile is the own shell
        f"{LOOP};Reconciler.reconcile (zen_lead/director/reconcile.py:140);"
        "select_leader (zen_lead/eligibility/selection.py:152) 30",
        # a metric updated from inside the HTTP client's caller: the innermost known layer wins
        f"{LOOP};ApiClient.request (zen_lead/kube/client.py:193);"
        "ClientSession._request (aiohttp/client.py:700);"
        "MetricWrapperBase.labels (prometheus_client/metrics.py:190) 5",
        f"{LOOP};ApiClient.apply (zen_lead/kube/client.py:221) 15",
        "",
    ]
    summary = summarize(lines)
    assert (summary.samples, summary.idle, summary.busy) == (100, 50, 50)
    assert summary.layers == {"decision (director/core)": 30, OWN_SHELL: 15, "prometheus_client": 5}
    assert summary.top_self[0] == ("select_leader (zen_lead/eligibility/selection.py)", 30)
    shares = summary.as_dict()["layers"]
    assert shares == {"decision (director/core)": 0.6, OWN_SHELL: 0.3, "prometheus_client": 0.1}


@given(
    st.lists(
        st.tuples(st.sampled_from([p for _, ps in LAYERS for p in ps] + ["mine.py"]), st.integers(1, 99))
    )
)
def test_every_busy_sample_lands_in_the_layer_of_its_file(stacks: list[tuple[str, int]]) -> None:
    layer_by_pattern = {pattern: name for name, patterns in LAYERS for pattern in patterns}
    expected: Counter[str] = Counter()
    for path, count in stacks:
        expected[layer_by_pattern.get(path, OWN_SHELL)] += count
    lines = [f"{LOOP};f ({path}:1) {count}" for path, count in stacks]
    summary = summarize(lines)
    assert summary.idle == 0
    assert summary.samples == sum(count for _, count in stacks)
    assert summary.layers == dict(expected)
    for path, _ in stacks:
        assert layer_of([f"f ({path}:1)"]) == layer_by_pattern.get(path, OWN_SHELL)
