"""The plugin registry over real entry points of fake distributions written to a temporary directory."""

from __future__ import annotations

import importlib
import textwrap
import uuid
from pathlib import Path

import pytest

from aws_wrapper.core.errors import PluginError
from aws_wrapper.core.plugin import PLUGIN_ABI, RELATIVE_WEIGHT, PluginFactory
from aws_wrapper.core.plugins import ConnectTimePluginFactory, DevPluginFactory, ExecuteTimePluginFactory
from aws_wrapper.core.registry import REGISTRY, PluginRegistry, normalize_code
from aws_wrapper.core.version import __version__

from ._fakes import recording_factory, registry_with

_FACTORY_SOURCE = """
from aws_wrapper.core.plugin import Plugin, PluginFactory


class {cls}(PluginFactory):
    code = {code!r}
    aliases = {aliases!r}
    weight = {weight!r}
    default = {default!r}
    abi = {abi!r}

    def create(self, context):
        return Plugin()
"""


class FakeSite:
    """Writes fake installed distributions (a ``.dist-info`` with ``entry_points.txt`` and a module each)."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        self.group = f"aws_wrapper.test_plugins_{uuid.uuid4().hex[:8]}"
        monkeypatch.syspath_prepend(str(root))

    def dist(self, name: str, version: str, entries: dict[str, str], source: str) -> str:
        """Install distribution ``name`` whose module (returned) has ``source``; ``entries`` maps entry-point
        names to ``attr`` (in that module) or a full ``module:attr``."""
        module = f"fake_{name.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
        (self.root / f"{module}.py").write_text(textwrap.dedent(source))
        info = self.root / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        lines = [f"[{self.group}]"]
        lines += [
            f"{ep} = {target if ':' in target else f'{module}:{target}'}" for ep, target in entries.items()
        ]
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
        importlib.invalidate_caches()
        return module

    def factory_source(
        self,
        cls: str,
        code: str,
        *,
        aliases: tuple[str, ...] = (),
        weight: int = RELATIVE_WEIGHT,
        default: bool = False,
        abi: int = PLUGIN_ABI,
    ) -> str:
        return _FACTORY_SOURCE.format(
            cls=cls, code=code, aliases=aliases, weight=weight, default=default, abi=abi
        )

    def registry(self) -> PluginRegistry:
        return PluginRegistry(group=self.group)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeSite:
    return FakeSite(tmp_path, monkeypatch)


def test_plugin_found_by_code_and_by_every_spelling(site: FakeSite) -> None:
    source = site.factory_source("Tracker", "aurora_connection_tracker", aliases=("tracker",), weight=100)
    site.dist("acme-tracker", "1.2", {"aurora_connection_tracker": "Tracker"}, source)
    registry = site.registry()
    factory = registry.get("aurora_connection_tracker")
    assert factory.code == "aurora_connection_tracker"
    for spelling in (
        "auroraConnectionTracker",
        "AURORA-CONNECTION-TRACKER",
        " aurora_connection_tracker ",
        "tracker",
    ):
        assert registry.get(spelling) is factory


@pytest.mark.parametrize(
    ("code", "dist"),
    [
        ("failover", "aws-wrapper-failover"),
        ("failover2", "aws-wrapper-failover"),
        ("auroraConnectionTracker", "aws-wrapper-failover"),
        ("efm", "aws-wrapper-efm"),
        ("host_monitoring_v2", "aws-wrapper-efm"),
        ("iam", "aws-wrapper-auth-iam"),
        ("awsSecretsManager", "aws-wrapper-auth-secrets"),
        ("federatedAuth", "aws-wrapper-auth-federated"),
        ("okta", "aws-wrapper-auth-okta"),
        ("readWriteSplitting", "aws-wrapper-rws"),
        ("customEndpoint", "aws-wrapper-custom-endpoint"),
        ("bg", "aws-wrapper-bg"),
        ("limitless", "aws-wrapper-limitless"),
    ],
)
def test_unknown_first_party_code_names_the_distribution_to_install(
    site: FakeSite, code: str, dist: str
) -> None:
    registry = site.registry()
    with pytest.raises(PluginError) as info:
        registry.get(code)
    assert (
        str(info.value)
        == f"plugin {code!r} is provided by {dist}, which is not installed: pip install {dist}"
    )


def test_unknown_third_party_code_lists_the_installed_plugins(site: FakeSite) -> None:
    site.dist("acme", "1.0", {"counter": "Counter"}, site.factory_source("Counter", "counter"))
    with pytest.raises(PluginError) as info:
        site.registry().get("nonsense")
    assert str(info.value) == "unknown plugin code 'nonsense'; installed plugins: counter"


def test_duplicate_code_names_both_distributions_and_others_still_load(site: FakeSite) -> None:
    site.dist("acme-one", "1.0", {"twin": "Twin"}, site.factory_source("Twin", "twin"))
    site.dist("acme-two", "2.0", {"twin": "Twin"}, site.factory_source("Twin", "twin"))
    site.dist("acme-ok", "3.0", {"fine": "Fine"}, site.factory_source("Fine", "fine"))
    registry = site.registry()
    with pytest.raises(PluginError) as info:
        registry.get("twin")
    message = str(info.value)
    assert message.startswith("plugin 'twin' cannot be used: plugin code 'twin' is provided by both ")
    assert "acme-one 1.0" in message
    assert "acme-two 2.0" in message
    assert registry.get("fine").code == "fine"


def test_duplicate_through_an_alias_is_detected(site: FakeSite) -> None:
    site.dist("acme-one", "1.0", {"efm_like": "A"}, site.factory_source("A", "efm_like", aliases=("efm",)))
    site.dist("acme-two", "1.0", {"other": "B"}, site.factory_source("B", "other", aliases=("EFM",)))
    registry = site.registry()
    with pytest.raises(PluginError, match=r"is provided by both acme-one 1\.0 and acme-two 1\.0"):
        registry.get("efm")
    assert registry.get("efm_like").code == "efm_like"
    assert registry.get("other").code == "other"


def test_abi_mismatch_names_distribution_and_both_versions(site: FakeSite) -> None:
    site.dist("acme-old", "0.9", {"oldie": "Old"}, site.factory_source("Old", "oldie", abi=PLUGIN_ABI + 98))
    site.dist("acme-ok", "1.0", {"fine": "Fine"}, site.factory_source("Fine", "fine"))
    registry = site.registry()
    with pytest.raises(PluginError) as info:
        registry.get("oldie")
    assert str(info.value) == (
        f"plugin 'oldie' cannot be used: plugin 'oldie' from acme-old 0.9 was built for plugin ABI "
        f"{PLUGIN_ABI + 98}, but aws-wrapper-core {__version__} provides ABI {PLUGIN_ABI}"
    )
    assert registry.get("fine").code == "fine"


def test_import_failure_is_reported_only_when_requested(
    site: FakeSite, caplog: pytest.LogCaptureFixture
) -> None:
    broken = site.dist("acme-broken", "1.0", {}, "raise ImportError('needs the frobnicator library')\n")
    site.dist(
        "acme-mixed",
        "1.0",
        {"broken": f"{broken}:Factory", "fine": "Fine"},
        site.factory_source("Fine", "fine"),
    )
    registry = site.registry()
    assert registry.get("fine").code == "fine"  # loading every entry point did not raise
    with pytest.raises(PluginError) as info:
        registry.get("broken")
    assert str(info.value) == (
        "plugin 'broken' cannot be used: it failed to import: ImportError: needs the frobnicator library"
    )
    assert "could not be imported" in caplog.text


def test_entry_point_that_is_not_a_factory(site: FakeSite) -> None:
    module = site.dist("acme-odd", "1.0", {"odd": "NOT_A_FACTORY"}, "NOT_A_FACTORY = 42\n")
    with pytest.raises(
        PluginError, match=rf"plugin 'odd' cannot be used: {module}:NOT_A_FACTORY is not a PluginFactory"
    ):
        site.registry().get("odd")


def test_default_list_is_the_installed_default_plugins_in_weight_order(site: FakeSite) -> None:
    source = "\n".join(
        [
            site.factory_source("Late", "late", weight=500, default=True),
            site.factory_source("Early", "early", weight=50, default=True),
            site.factory_source("Opt", "optional_one", weight=10),
            site.factory_source("Bad", "bad_default", weight=5, default=True, abi=PLUGIN_ABI + 1),
        ]
    )
    site.dist(
        "acme-defaults",
        "1.0",
        {"late": "Late", "early": "Early", "optional_one": "Opt", "bad_default": "Bad"},
        source,
    )
    registry = site.registry()
    assert registry.default_codes() == ["early", "late"]
    assert [f.code for f in registry.resolve(None, auto_sort=True)] == ["early", "late"]
    assert registry.resolve("", auto_sort=True) == []
    assert registry.resolve(" , ", auto_sort=True) == []


def test_resolve_sorts_by_weight_and_places_relative_plugins_after_their_predecessor() -> None:
    log: list[str] = []
    failover = recording_factory("failover", 400, log)
    efm = recording_factory("efm", 500, log)
    tracker = recording_factory("tracker", 100, log)
    dev = recording_factory("dev", RELATIVE_WEIGHT, log)
    timing = recording_factory("timing", RELATIVE_WEIGHT, log)
    registry = registry_with(failover, efm, tracker, dev, timing)

    def codes(plugins: str, auto_sort: bool = True) -> list[str]:
        return [f.code for f in registry.resolve(plugins, auto_sort=auto_sort)]

    assert codes("efm,failover,tracker") == ["tracker", "failover", "efm"]
    # relative weight: right after the plugin written before it
    assert codes("efm,failover,dev") == ["failover", "dev", "efm"]
    assert codes("efm,dev,failover") == ["failover", "efm", "dev"]
    # relative plugins written first count from 0: they stay outermost
    assert codes("dev,timing,tracker") == ["dev", "timing", "tracker"]
    # ties keep the written order (stable sort)
    assert codes("failover,dev,timing") == ["failover", "dev", "timing"]
    assert codes("efm,failover,tracker", auto_sort=False) == ["efm", "failover", "tracker"]


def test_listing_a_plugin_twice_is_an_error_even_under_another_spelling() -> None:
    registry = registry_with(recording_factory("aurora_connection_tracker", 100, []))
    with pytest.raises(PluginError) as info:
        registry.resolve("aurora_connection_tracker,auroraConnectionTracker", auto_sort=True)
    assert str(info.value) == (
        "plugin 'auroraConnectionTracker' is listed twice in plugins (also as 'aurora_connection_tracker')"
    )


def test_registered_factory_with_wrong_abi_is_refused() -> None:
    registry = registry_with(recording_factory("future", 10, [], abi=PLUGIN_ABI + 1))
    with pytest.raises(PluginError, match=rf"'future' was built for plugin ABI {PLUGIN_ABI + 1}, but"):
        registry.get("future")


def test_reload_sees_factories_installed_later(site: FakeSite) -> None:
    registry = site.registry()
    with pytest.raises(PluginError):
        registry.get("newcomer")
    site.dist("acme-new", "1.0", {"newcomer": "New"}, site.factory_source("New", "newcomer"))
    with pytest.raises(PluginError):
        registry.get("newcomer")  # loaded once per process ...
    registry.reload()
    assert registry.get("newcomer").code == "newcomer"  # ... until reloaded


def test_core_plugins_are_installed_through_entry_points() -> None:
    expected: dict[str, type[PluginFactory]] = {
        "connect_time": ConnectTimePluginFactory,
        "execute_time": ExecuteTimePluginFactory,
        "dev": DevPluginFactory,
        "connectTime": ConnectTimePluginFactory,
        "executeTime": ExecuteTimePluginFactory,
        "developer": DevPluginFactory,
    }
    for code, factory in expected.items():
        assert REGISTRY.get(code) is factory
    for factory in set(expected.values()):
        assert factory.weight == RELATIVE_WEIGHT
        assert factory.abi == PLUGIN_ABI
        assert not factory.default


def test_normalize_code() -> None:
    assert normalize_code("aurora_connection_tracker") == normalize_code("auroraConnectionTracker")
    assert normalize_code(" Failover-V2 ") == "failoverv2"
