"""The plugin registry over real entry points of fake distributions written to a temporary directory."""

from __future__ import annotations

import importlib
import logging
import os
import sys
import textwrap
import uuid
from collections.abc import Iterable
from pathlib import Path

import pytest

from aws_wrapper.core.errors import PluginError
from aws_wrapper.core.plugin import PLUGIN_ABI, RELATIVE_WEIGHT, PluginFactory
from aws_wrapper.core.plugins import ConnectTimePluginFactory, DevPluginFactory, ExecuteTimePluginFactory
from aws_wrapper.core.registry import (
    REGISTRY,
    InstalledDistribution,
    InstalledEntryPoint,
    PluginRegistry,
    _scan_directories,
    _scan_importlib_metadata,
    abi_version,
    normalize_code,
    scan_entry_points,
)
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

    def dist(
        self,
        name: str,
        version: str,
        entries: dict[str, str],
        source: str,
        *,
        aliases: dict[str, str] | None = None,
        defaults: Iterable[str] = (),
        settings: Iterable[str] = (),
    ) -> str:
        """Install distribution ``name`` whose module (returned) has ``source``; ``entries`` maps entry-point
        names to ``attr`` (in that module) or a full ``module:attr``; ``aliases`` likewise for the aliases group;
        ``defaults`` names codes of the default list and ``settings`` setting names (or ``prefix*``)."""
        module = f"fake_{name.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
        (self.root / f"{module}.py").write_text(textwrap.dedent(source))
        info = self.root / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")

        def ref(target: str) -> str:
            return target if ":" in target else f"{module}:{target}"

        lines = [f"[{self.group}]"]
        lines += [f"{ep} = {ref(target)}" for ep, target in entries.items()]
        lines += [f"[{self.group}.aliases]"]
        lines += [f"{ep} = {ref(target)}" for ep, target in (aliases or {}).items()]
        lines += [f"[{self.group}.defaults]"]
        lines += [f"{code} = {ref(entries.get(code, 'Unused'))}" for code in defaults]
        lines += [f"[{self.group}.settings]"]
        lines += [f"{setting} = {module}:NOT_LOADED" for setting in settings]
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
        abi: object = PLUGIN_ABI,
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
        ("iamAuth", "aws-wrapper-auth-iam"),
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


def test_plugin_abi_is_major_minor_1_2() -> None:
    assert PLUGIN_ABI == (1, 2)
    assert PluginFactory.abi == PLUGIN_ABI


@pytest.mark.parametrize("abi", [1, (1, 0), (1, 1), (1, 2)])
def test_same_major_and_a_minor_up_to_cores_loads(site: FakeSite, abi: object) -> None:
    site.dist(
        "acme-compatible", "0.3", {"compat": "Compat"}, site.factory_source("Compat", "compat", abi=abi)
    )
    assert site.registry().get("compat").abi == abi


@pytest.mark.parametrize(
    ("abi", "shown", "advice"),
    [
        ((1, 3), "1.3", "upgrade aws-wrapper-core"),
        ((2, 0), "2.0", "upgrade aws-wrapper-core"),
        (2, "2.0", "upgrade aws-wrapper-core"),
        (0, "0.0", "upgrade the plugin"),
        ((0, 9), "0.9", "upgrade the plugin"),
    ],
)
def test_abi_mismatch_names_distribution_and_both_versions(
    site: FakeSite, abi: object, shown: str, advice: str
) -> None:
    site.dist("acme-abi", "0.3", {"needy": "Needy"}, site.factory_source("Needy", "needy", abi=abi))
    site.dist("acme-ok", "1.0", {"fine": "Fine"}, site.factory_source("Fine", "fine"))
    registry = site.registry()
    with pytest.raises(PluginError) as info:
        registry.get("needy")
    assert str(info.value) == (
        f"plugin 'needy' cannot be used: plugin 'needy' from acme-abi 0.3 needs plugin ABI {shown}, "
        f"but aws-wrapper-core {__version__} provides 1.2; {advice}"
    )
    assert registry.get("fine").code == "fine"


@pytest.mark.parametrize("abi", ["1.1", 1.1, True, (1,), (1, 1, 0), (1, "1"), None])
def test_malformed_abi_declaration_is_refused(site: FakeSite, abi: object) -> None:
    site.dist("acme-odd", "0.1", {"odd_abi": "Odd"}, site.factory_source("Odd", "odd_abi", abi=abi))
    with pytest.raises(PluginError) as info:
        site.registry().get("odd_abi")
    assert str(info.value) == (
        f"plugin 'odd_abi' cannot be used: plugin 'odd_abi' from acme-odd 0.1 declares plugin ABI {abi!r}, which "
        f"is neither a major version (int) nor a (major, minor) tuple; aws-wrapper-core {__version__} provides 1.2"
    )


def test_abi_version() -> None:
    assert abi_version(1) == (1, 0)
    assert abi_version((1, 1)) == (1, 1)
    assert abi_version(False) is None
    assert abi_version([1, 1]) is None


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
            site.factory_source("Bad", "bad_default", weight=5, default=True, abi=(2, 0)),
        ]
    )
    module = site.dist(
        "acme-defaults",
        "1.0",
        {"late": "Late", "early": "Early", "optional_one": "Opt", "bad_default": "Bad"},
        source,
        defaults=["late", "early", "bad_default"],
    )
    registry = site.registry()
    assert module not in sys.modules  # reading the metadata imports nothing
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
    registry = registry_with(recording_factory("future", 10, [], abi=(1, 3)))
    with pytest.raises(PluginError) as info:
        registry.get("future")
    assert str(info.value) == (
        f"plugin 'future' cannot be used: plugin 'future' needs plugin ABI 1.3, but aws-wrapper-core "
        f"{__version__} provides 1.2; upgrade aws-wrapper-core"
    )


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


# -- lazy loading: codes, aliases, defaults and settings from metadata --------------------------------------------


def test_only_the_requested_plugin_is_imported(site: FakeSite) -> None:
    wanted = site.dist("acme-wanted", "1.0", {"wanted": "Wanted"}, site.factory_source("Wanted", "wanted"))
    other = site.dist("acme-other", "1.0", {"other": "Other"}, site.factory_source("Other", "other"))
    heavy = site.dist("acme-heavy", "1.0", {}, "raise ImportError('importing me is a bug')\n")
    site.dist("acme-heavy-plugin", "1.0", {"heavy": f"{heavy}:Factory"}, "")
    registry = site.registry()
    assert registry.get("wanted").code == "wanted"
    assert wanted in sys.modules
    assert other not in sys.modules
    assert registry.resolve("wanted", auto_sort=True)[0].code == "wanted"
    assert registry.resolve("", auto_sort=True) == []
    assert other not in sys.modules


def test_aliases_resolve_from_metadata_without_importing_other_plugins(site: FakeSite) -> None:
    tracker = site.dist(
        "acme-tracker",
        "1.0",
        {"aurora_connection_tracker": "Tracker"},
        site.factory_source("Tracker", "aurora_connection_tracker"),
        aliases={"tracker": "Tracker", "connection_tracker": "Tracker"},
    )
    other = site.dist("acme-other", "1.0", {"other": "Other"}, site.factory_source("Other", "other"))
    registry = site.registry()
    factory = registry.get("TRACKER")
    assert factory.code == "aurora_connection_tracker"
    assert registry.get("connectionTracker") is factory
    assert registry.get("auroraConnectionTracker") is factory
    assert tracker in sys.modules
    assert other not in sys.modules


def test_alias_declared_only_in_the_class_still_resolves(site: FakeSite) -> None:
    """Plugins packaged before ABI 1.1 declare one entry point per code and their aliases in the class only: a code
    no entry point declares imports the plugins (the slow path) before it is called unknown."""
    source = site.factory_source("Legacy", "legacy_plugin", aliases=("oldAlias",))
    site.dist("acme-legacy", "0.1", {"legacy_plugin": "Legacy"}, source)
    registry = site.registry()
    assert registry.get("old_alias").code == "legacy_plugin"
    assert registry.get("OLD-ALIAS").code == "legacy_plugin"


def test_duplicate_in_metadata_is_detected_without_importing_either(site: FakeSite) -> None:
    one = site.dist("acme-one", "1.0", {"twin": "Twin"}, site.factory_source("Twin", "twin"))
    source = site.factory_source("Other", "other")
    two = site.dist("acme-two", "2.0", {"other": "Other"}, source, aliases={"TWIN": "Other"})
    registry = site.registry()
    with pytest.raises(
        PluginError, match=r"plugin code '.+' is provided by both acme-(one 1\.0|two 2\.0) and"
    ):
        registry.get("twin")
    assert one not in sys.modules
    assert two not in sys.modules
    assert registry.get("other").code == "other"


def test_second_spelling_within_one_distribution_is_no_conflict(site: FakeSite) -> None:
    source = site.factory_source("A", "alpha") + site.factory_source("B", "beta")
    site.dist("acme-pair", "1.0", {"alpha": "A", "beta": "B"}, source, aliases={"Alpha": "B", "first": "A"})
    registry = site.registry()
    assert registry.get("alpha").code == "alpha"  # the code wins over the same distribution's alias
    assert registry.get("first").code == "alpha"


def test_default_list_imports_only_the_default_plugins(site: FakeSite) -> None:
    source = site.factory_source("Dflt", "dflt", weight=10, default=True)
    defaults = site.dist("acme-default", "1.0", {"dflt": "Dflt"}, source, defaults=["dflt"])
    optional = site.dist("acme-optional", "1.0", {"opt": "Opt"}, site.factory_source("Opt", "opt", weight=5))
    registry = site.registry()
    assert [f.code for f in registry.resolve(None, auto_sort=True)] == ["dflt"]
    assert defaults in sys.modules
    assert optional not in sys.modules


def test_class_default_flag_without_the_entry_point_is_not_a_default(site: FakeSite) -> None:
    """The default list is read from metadata: importing every plugin to read its class flag is what it avoids."""
    site.dist(
        "acme-flag", "1.0", {"flagged": "Flagged"}, site.factory_source("Flagged", "flagged", default=True)
    )
    assert site.registry().default_codes() == []


def test_unknown_default_code_is_logged_and_left_out(
    site: FakeSite, caplog: pytest.LogCaptureFixture
) -> None:
    source = site.factory_source("Real", "real", weight=1)
    site.dist("acme-defaults", "1.0", {"real": "Real"}, source, defaults=["real", "ghost"])
    with caplog.at_level(logging.WARNING, logger="aws_wrapper.core"):
        assert site.registry().default_codes() == ["real"]
    assert "default plugin 'ghost' is declared but no installed plugin has that code" in caplog.text


def test_setting_keys_come_from_metadata_without_importing(site: FakeSite) -> None:
    module = site.dist(
        "acme-settings",
        "1.0",
        {"configured": "Configured"},
        site.factory_source("Configured", "configured"),
        settings=["acme_timeout_ms", "acme_region", "acme-monitor-*", "*"],
    )
    registry = site.registry()
    names, prefixes = registry.setting_keys()
    assert names == {"acme_timeout_ms", "acme_region"}
    assert prefixes == ("acme-monitor-",)  # a bare "*" is no prefix (it would claim every key)
    assert module not in sys.modules


def test_setting_keys_include_the_settings_of_imported_factories() -> None:
    """A plugin that declares its settings only in the class: they count once it is imported."""
    from aws_wrapper.core.settings import integer

    class Legacy(PluginFactory):
        code = "legacy_with_settings"
        settings = (integer("legacy_every", 1, "Every n-th call."),)
        setting_prefixes = ("legacy-",)

    registry = registry_with(Legacy)
    generation = registry.generation
    assert registry.setting_keys() == (frozenset({"legacy_every"}), ("legacy-",))
    assert registry.generation > generation


def test_entry_points_of_other_groups_come_from_the_same_scan(site: FakeSite) -> None:
    registry = site.registry()
    assert registry.entry_points("aws_wrapper.no_such_group") == ()
    assert {ep.name for ep in REGISTRY.entry_points("aws_wrapper.plugins")} >= {"connect_time", "dev"}
    assert {ep.name for ep in REGISTRY.entry_points("aws_wrapper.plugin_aliases")} >= {"developer"}


# -- reading the installed distributions' entry points ------------------------------------------------------------


def _summary(found: dict[str, list[InstalledEntryPoint]]) -> set[tuple[str, str, str, str, str]]:
    return {
        (ep.group, ep.name, ep.value, ep.dist.name, ep.dist.version) for eps in found.values() for ep in eps
    }


def test_the_direct_scan_finds_what_importlib_metadata_finds(site: FakeSite) -> None:
    site.dist("acme-scan", "1.0", {"scanned": "Scanned"}, site.factory_source("Scanned", "scanned"))

    def wanted(group: str) -> bool:
        return group.startswith(("aws_wrapper", "console_scripts", "pytest11"))

    direct = _scan_directories(wanted)
    assert direct is not None
    assert _summary(direct) == _summary(_scan_importlib_metadata(wanted))
    assert (site.group, "scanned") in {(g, ep.name) for g, eps in direct.items() for ep in eps}


def test_the_first_distribution_of_a_name_on_sys_path_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    group = f"aws_wrapper.test_shadow_{uuid.uuid4().hex[:8]}"
    for index, directory in enumerate((tmp_path / "first", tmp_path / "second")):
        info = directory / f"acme_shadow-{index}.0.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: Acme.Shadow\nVersion: {index}.0\n\nbody\n"
        )
        (info / "entry_points.txt").write_text(f"# comment\n[{group}]\nplugin{index} = mod:Factory{index}\n")
    monkeypatch.syspath_prepend(str(tmp_path / "second"))
    monkeypatch.syspath_prepend(str(tmp_path / "first"))
    found = scan_entry_points(lambda g: g == group)
    assert [(ep.name, ep.value, ep.dist.name, ep.dist.version) for ep in found[group]] == [
        ("plugin0", "mod:Factory0", "Acme.Shadow", "0.0")
    ]


def test_a_zip_on_sys_path_is_read_through_importlib_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import zipfile

    group = f"aws_wrapper.test_zipped_{uuid.uuid4().hex[:8]}"
    archive = tmp_path / "zipped.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr(
            "acme_zipped-2.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: acme-zipped\nVersion: 2.0\n"
        )
        zipped.writestr("acme_zipped-2.0.dist-info/entry_points.txt", f"[{group}]\nzipped = json:dumps\n")
    monkeypatch.syspath_prepend(str(archive))
    assert _scan_directories(lambda g: g == group) is None
    [ep] = scan_entry_points(lambda g: g == group)[group]
    assert (ep.name, ep.dist.name, ep.dist.version) == ("zipped", "acme-zipped", "2.0")
    import json

    assert ep.load() is json.dumps


def test_entry_point_load_follows_attribute_paths_and_rejects_malformed_values() -> None:
    dist = InstalledDistribution("/nonexistent")
    assert InstalledEntryPoint("x", "os.path:join", "g", dist).load() is os.path.join
    assert InstalledEntryPoint("x", "os : path.join [extra]", "g", dist).load() is os.path.join
    assert InstalledEntryPoint("x", "os.path", "g", dist).load() is os.path
    with pytest.raises(ValueError, match="malformed entry point value 'not a value!'"):
        InstalledEntryPoint("x", "not a value!", "g", dist).load()
    assert (dist.name, dist.version) == ("<unknown distribution>", "?")
