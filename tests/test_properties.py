"""Property tests: any valid configuration gives a valid tree; the validators accept what they should.

Random CorePlatform configurations (services disabled, name prefix, tree path, ``wait`` and chart
versions per service) are written and checked with ``tree_check.check_tree`` (schemas, listing,
Flux paths, dependsOn, sources, health checks; kustomize is left to the foundation tests) and with
the tree's own invariants.
"""

from __future__ import annotations

import copy
import json
import math
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from cdk8s import App
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

from sre_constructs import SERVICES, CorePlatform, ValidationError, write_tree
from sre_constructs.kernel.tree_check import check_tree
from sre_constructs.kernel.validation import check_chart_version, check_duration, check_values

NAMES = [spec.name for spec in SERVICES]
# Each example synthesizes and checks a whole tree (~1 s): no shrinking, which could take minutes;
# Hypothesis still prints the failing configuration.
SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)

# --------------------------------------------------------------------------- strategies

numbers = st.integers(min_value=0, max_value=999).map(str)
pre_release = st.from_regex(r"[0-9A-Za-z]+(\.[0-9A-Za-z]+){0,2}", fullmatch=True)
exact_versions = st.builds(
    lambda v, major, minor, patch, pre, build: (
        f"{v}{major}.{minor}.{patch}" + (f"-{pre}" if pre else "") + (f"+{build}" if build else "")
    ),
    st.sampled_from(["", "v"]),
    numbers,
    numbers,
    numbers,
    st.none() | pre_release,
    st.none() | pre_release,
)
partials = st.builds(
    lambda parts: ".".join(parts),
    st.lists(numbers | st.sampled_from(["x", "X", "*"]), min_size=1, max_size=3),
)
terms = st.builds(
    lambda op, space, version: f"{op}{space}{version}",
    st.sampled_from(["", "=", "!=", ">", "<", ">=", "<=", "~", "~>", "^"]),
    st.sampled_from(["", " "]),
    exact_versions | partials,
)
ranges = st.one_of(
    st.builds(
        lambda first, rest: first + "".join(sep + term for sep, term in rest),
        terms,
        st.lists(st.tuples(st.sampled_from([" ", ", ", ",", " || ", "||"]), terms), max_size=3),
    ),
    st.builds(lambda a, b: f"{a} - {b}", exact_versions | partials, exact_versions | partials),
)
chart_versions = exact_versions | ranges

durations = st.builds(
    lambda parts: "".join(parts),
    st.lists(
        st.builds(
            lambda n, frac, unit: f"{n}{frac}{unit}",
            numbers,
            st.sampled_from(["", ".5", ".25"]),
            st.sampled_from(["ms", "s", "m", "h"]),
        ),
        min_size=1,
        max_size=4,
    ),
)

dns_segment = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,8}[a-z0-9])?", fullmatch=True)
tree_paths = st.lists(dns_segment, min_size=1, max_size=3).map("/".join)
name_prefixes = st.just("") | st.from_regex(r"[a-z0-9][a-z0-9-]{0,5}-?", fullmatch=True)


@st.composite
def configurations(draw: st.DrawFn) -> dict[str, Any]:
    """A valid CorePlatform configuration: at least one service, requirements respected."""
    disabled = set(draw(st.sets(st.sampled_from(NAMES), max_size=len(NAMES) - 1)))
    changed = True
    while changed:  # a service whose requirement is disabled goes too
        changed = False
        for spec in SERVICES:
            if spec.name not in disabled and any(r in disabled for r in spec.requires):
                disabled.add(spec.name)
                changed = True
    assume(len(disabled) < len(NAMES))
    services: dict[str, dict[str, Any]] = {}
    for name in NAMES:
        if name in disabled:
            services[name] = {"enabled": False}
            continue
        knobs: dict[str, Any] = {"wait": draw(st.booleans())}
        if draw(st.booleans()):
            knobs["version"] = draw(chart_versions)
        services[name] = knobs
    return {
        "path": draw(tree_paths),
        "name_prefix": draw(name_prefixes),
        "services": services,
    }


# --------------------------------------------------------------------------- the tree


def load(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


@SETTINGS
@given(config=configurations())
def test_valid_configurations_give_valid_trees(config: dict[str, Any]) -> None:
    app = App()
    core = CorePlatform(app, "core", **config)
    components = core.components  # dependency order, companions (``<service>-config``) included
    enabled = [c.name for c in components]
    disabled = [n for n, knobs in config["services"].items() if knobs.get("enabled") is False]
    prefix = config["name_prefix"]
    for name in NAMES:
        assert (getattr(core, name.replace("-", "_")) is None) == (name in disabled)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        write_tree(app, out)
        root = out / config["path"]

        findings = check_tree(root, kustomize=False)
        assert findings == [], "\n".join(str(f) for f in findings)

        # The root lists the sources, then exactly the components' files, dependencies first.
        component_files = sorted(p.relative_to(root).as_posix() for p in (root / "components").glob("*.yaml"))
        assert component_files == sorted(f"components/{n}.yaml" for n in enabled)
        resources = load(root / "kustomization.yaml")[0]["resources"]
        assert resources == ["sources/helmrepositories.yaml", *(f"components/{n}.yaml" for n in enabled)]

        flux = {c.name: load(root / f"components/{c.name}.yaml")[0] for c in components}
        names = {doc["metadata"]["name"] for doc in flux.values()}
        assert names == {prefix + n for n in enabled}
        assert not names & {prefix + d for d in disabled}
        position = {prefix + n: i for i, n in enumerate(enabled)}
        for component in components:
            doc = flux[component.name]
            assert doc["spec"]["path"] == f"./{config['path']}/{component.name}"
            assert doc["spec"]["wait"] is component.wait
            if component.name in config["services"]:
                assert component.wait is config["services"][component.name]["wait"]
            for dep in doc["spec"].get("dependsOn", []):
                # Every target exists in the tree, so none is a disabled service.
                assert dep["name"] in names, f"{component.name} depends on {dep['name']}, not in the tree"
                assert position[dep["name"]] < position[prefix + component.name]
            if not component.wait:
                assert doc["spec"].get("healthChecks"), f"{component.name}: wait off needs health checks"
        for name in disabled:
            assert not (root / name).exists()

        assert write_tree(app, out, check=True)  # current: check mode passes


# --------------------------------------------------------------------------- validators


@settings(max_examples=300, deadline=None)
@given(version=chart_versions)
def test_chart_version_accepts_semver_and_ranges(version: str) -> None:
    assert check_chart_version("w", "version", version) == version


@settings(max_examples=300, deadline=None)
@given(
    version=st.one_of(
        st.text(alphabet="abcdefghijklmnopqrstuwyz", min_size=1),  # words: no digits, no 'v' or 'x'
        st.builds(lambda a, b: f"{a}..{b}", numbers, numbers),
        st.builds(lambda a, bad, b: f"{a}{bad}{b}", numbers, st.sampled_from(list("@#$%&/\\;:?!")), numbers),
        st.builds(lambda a, b, c, d: f"{a}.{b}.{c}.{d}", numbers, numbers, numbers, numbers),
        st.just(""),
        st.text(alphabet=" \t", min_size=1),
        st.integers() | st.floats() | st.none() | st.lists(st.text()),
    )
)
def test_chart_version_rejects_garbage(version: Any) -> None:
    with pytest.raises(ValidationError) as info:
        check_chart_version("core/x", "version", version)
    assert info.value.where == "core/x" and info.value.field == "version"
    assert "a semantic version such as '1.30.3'" in str(info.value)


@settings(max_examples=300, deadline=None)
@given(duration=durations)
def test_duration_accepts_go_durations(duration: str) -> None:
    assert check_duration("w", "interval", duration) == duration


@settings(max_examples=300, deadline=None)
@given(
    duration=st.one_of(
        numbers,  # no unit
        st.builds(lambda n, u: f"{n}{u}", numbers, st.sampled_from(["d", "w", "y", "us", "ns", "M", "H", " m", "min"])),
        st.builds(lambda n, u: f"-{n}{u}", numbers, st.sampled_from(["s", "m", "h"])),
        st.builds(lambda d, sp: f"{d}{sp}", durations, st.sampled_from([" ", "\n", "x"])),
        st.just(""),
        st.integers(),
        st.floats(),
        st.none(),
    )
)
def test_duration_rejects_garbage(duration: Any) -> None:
    with pytest.raises(ValidationError) as info:
        check_duration("core/x", "interval", duration)
    assert "a Go duration such as '30s', '10m' or '1h30m'" in str(info.value)


json_data = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(values=st.dictionaries(st.text(max_size=8), json_data, max_size=5))
def test_values_accepts_json_data_and_copies_it(values: dict[str, Any]) -> None:
    original = copy.deepcopy(values)
    result = check_values("w", "values", values)
    assert json.dumps(result, sort_keys=True) == json.dumps(values, sort_keys=True)
    for key in result:
        result[key] = {"mutated": True}
    assert values == original  # a deep copy: later merges never touch the caller's data


@settings(max_examples=200, deadline=None)
@given(
    path=st.lists(st.from_regex(r"[a-z]{1,5}", fullmatch=True), min_size=1, max_size=4),
    bad=st.sampled_from([{1}, object(), float("nan"), float("-inf"), b"x", frozenset()]),
)
def test_values_rejects_non_json_leaf_naming_the_path(path: list[str], bad: Any) -> None:
    values: dict[str, Any] = {}
    node = values
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = bad
    with pytest.raises(ValidationError) as info:
        check_values("core/x/r", "values", values)
    assert info.value.field == "values." + ".".join(path)
    assert info.value.value is bad or (isinstance(bad, float) and math.isnan(bad))
