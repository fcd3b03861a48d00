"""The entry-point metadata the registry reads without importing anything agrees with the factories, for every
distribution of the workspace (and the plugin fixtures): each plugin's code is its ``aws_wrapper.plugins`` entry
point, each class alias that normalizes differently from the code is an ``aws_wrapper.plugin_aliases`` entry point,
``default`` matches ``aws_wrapper.default_plugins``, and every setting and key prefix a factory (or, for
aws-wrapper-dialects, the package) owns is an ``aws_wrapper.settings`` entry point whose object is that setting."""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points

import pytest

from aws_wrapper.core.registry import (
    ALIASES_GROUP,
    DEFAULTS_GROUP,
    ENTRY_POINT_GROUP,
    REGISTRY,
    SETTINGS_GROUP,
    normalize_code,
)
from aws_wrapper.core.settings import Setting

pytestmark = pytest.mark.integration

#: Distributions whose metadata is checked: the products, and the plugin fixtures that follow the scheme.
CHECKED = {
    "aws-wrapper-core",
    "aws-wrapper-dialects",
    "aws-wrapper-failover",
    "aws-wrapper-efm",
    "aws-wrapper-auth-secrets",
    "aws-wrapper-auth-iam",
    "aws-wrapper-custom-endpoint",
    "aws-wrapper-test-thirdparty-plugin",
    "aws-wrapper-test-heavy-plugin",
    "aws-wrapper-test-abi-versions",
}

#: Plugins of those fixtures that the registry refuses by design (another ABI).
REFUSED = {"test_wrong_abi", "test_abi_13", "test_abi_20"}


def _declared(group: str) -> dict[str, list[EntryPoint]]:
    """Entry points of ``group`` of the checked distributions, by value (the factory or setting reference)."""
    result: dict[str, list[EntryPoint]] = {}
    for ep in entry_points().select(group=group):
        if ep.dist is not None and ep.dist.name in CHECKED:
            result.setdefault(ep.value, []).append(ep)
    return result


def test_every_plugin_code_alias_and_default_is_declared() -> None:
    plugins = _declared(ENTRY_POINT_GROUP)
    aliases = _declared(ALIASES_GROUP)
    defaults = _declared(DEFAULTS_GROUP)
    assert len(plugins) >= 12
    for value, eps in plugins.items():
        assert len(eps) == 1, f"{value}: one entry point per plugin in {ENTRY_POINT_GROUP}, got {eps}"
        factory = eps[0].load()
        if factory.code not in REFUSED:
            assert REGISTRY.get(eps[0].name) is factory
        assert eps[0].name == factory.code, value
        spellings = {normalize_code(factory.code)} | {
            normalize_code(ep.name) for ep in aliases.get(value, [])
        }
        missing = [a for a in factory.aliases if normalize_code(a) not in spellings]
        assert not missing, f"{value}: declare {missing} in {ALIASES_GROUP}"
        assert (value in defaults) == factory.default, (
            f"{value}: default={factory.default} vs {DEFAULTS_GROUP}"
        )
        if factory.default:
            assert [ep.name for ep in defaults[value]] == [factory.code]
    for value, eps in aliases.items():
        assert value in plugins, f"aliases {[ep.name for ep in eps]} name {value}, which is no plugin"


def test_every_setting_and_prefix_is_declared_by_its_distribution() -> None:
    declared = {ep.name: ep for eps in _declared(SETTINGS_GROUP).values() for ep in eps}
    owned: dict[str, str] = {}
    for eps in _declared(ENTRY_POINT_GROUP).values():
        factory = eps[0].load()
        owned.update({s.name: factory.code for s in factory.settings})
        owned.update({f"{p}*": factory.code for p in factory.setting_prefixes})
    from aws_wrapper.dialects._settings import MONITORING_PREFIX, TOPOLOGY_SETTINGS

    owned.update({s.name: "aws-wrapper-dialects" for s in TOPOLOGY_SETTINGS})
    owned[f"{MONITORING_PREFIX}*"] = "aws-wrapper-dialects"
    missing = sorted(set(owned) - set(declared))
    assert not missing, f"declare these in {SETTINGS_GROUP}: {[(n, owned[n]) for n in missing]}"
    for name, ep in declared.items():
        obj = ep.load()
        if name.endswith("*"):
            assert obj == name[:-1], ep
        else:
            assert isinstance(obj, Setting), ep
            assert obj.name == name, ep


def test_core_hard_codes_no_setting_of_another_distribution() -> None:
    from aws_wrapper.core._runtime import wrapper_keys

    names, prefixes = wrapper_keys()
    assert {"cluster_id", "topology_refresh_ms", "failover_mode", "failure_detection_time_ms"} <= names
    assert {"topology-monitoring-", "monitoring-"} <= set(prefixes)
    assert "test_heavy_region" in names
