"""Plugin discovery from entry-point metadata: a plugin's module is imported only when a connection asks for it.

Each distribution declares in its ``pyproject.toml`` (read once per process, on the first connect, without
importing anything):

``aws_wrapper.plugins``
    one entry point per plugin: name = its code, value = ``module:FactoryClass``.
``aws_wrapper.plugin_aliases``
    one entry point per further accepted spelling (``failover2``, ``efm``), value = the same factory.
``aws_wrapper.default_plugins``
    one entry point per plugin of the default list (used when ``plugins`` is not set): name = its code, value = the
    same factory.
``aws_wrapper.settings``
    one entry point per setting the distribution owns (name = the setting's name, value = the ``Setting`` object),
    or per key prefix it owns, written with a trailing ``*`` (``"monitoring-*"``). The wrapper strips them from
    the driver's arguments; core reads the names only and never loads these objects.

Codes match ignoring case, ``_`` and ``-``. ``plugins="failover"`` imports the failover plugin's module and nothing
else; ``plugins`` unset imports the default plugins only. A code that no entry point declares makes the registry
import every plugin not imported yet and match their factories' ``code`` and ``aliases``, so that plugins declaring
their aliases only in the class (as before ABI 1.1) keep working; only then is the code reported unknown.

A plugin that fails to import, declares an ABI this core does not provide, or claims a code another distribution
also claims is reported with a :class:`PluginError` that says why when it is requested; every other plugin keeps
working.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import sys
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .errors import PluginError
from .plugin import PLUGIN_ABI, RELATIVE_WEIGHT, PluginFactory
from .version import __version__

if TYPE_CHECKING:
    from importlib.metadata import Distribution

__all__ = [
    "PluginRegistry",
    "REGISTRY",
    "InstalledDistribution",
    "InstalledEntryPoint",
    "scan_entry_points",
    "normalize_code",
    "abi_version",
    "ENTRY_POINT_GROUP",
    "ALIASES_GROUP",
    "DEFAULTS_GROUP",
    "SETTINGS_GROUP",
]

logger = logging.getLogger("aws_wrapper.core")
ENTRY_POINT_GROUP = "aws_wrapper.plugins"
ALIASES_GROUP = "aws_wrapper.plugin_aliases"
DEFAULTS_GROUP = "aws_wrapper.default_plugins"
SETTINGS_GROUP = "aws_wrapper.settings"
_CONFLICT = "<conflict>"  # the value of a target that stands for two distributions claiming one code

#: Where first-party plugin codes live, for the "install X" hint (normalized code -> distribution).
_FIRST_PARTY = {
    "failover": "aws-wrapper-failover",
    "failoverv2": "aws-wrapper-failover",
    "failover2": "aws-wrapper-failover",
    "auroraconnectiontracker": "aws-wrapper-failover",
    "staledns": "aws-wrapper-failover",
    "initialconnection": "aws-wrapper-failover",
    "gdbfailover": "aws-wrapper-failover",
    "hostmonitoring": "aws-wrapper-efm",
    "hostmonitoringv2": "aws-wrapper-efm",
    "efm": "aws-wrapper-efm",
    "efm2": "aws-wrapper-efm",
    "iam": "aws-wrapper-auth-iam",
    "iamauth": "aws-wrapper-auth-iam",
    "awssecretsmanager": "aws-wrapper-auth-secrets",
    "federatedauth": "aws-wrapper-auth-federated",
    "okta": "aws-wrapper-auth-okta",
    "readwritesplitting": "aws-wrapper-rws",
    "srw": "aws-wrapper-rws",
    "gdbrw": "aws-wrapper-rws",
    "customendpoint": "aws-wrapper-custom-endpoint",
    "bg": "aws-wrapper-bg",
    "bluegreen": "aws-wrapper-bg",
    "limitless": "aws-wrapper-limitless",
    "fastestresponsestrategy": "aws-wrapper-rws",
}


def normalize_code(code: str) -> str:
    """Codes match ignoring case, ``_`` and ``-``: ``aurora_connection_tracker`` == ``auroraConnectionTracker``."""
    return code.strip().lower().replace("_", "").replace("-", "")


def abi_version(abi: object) -> tuple[int, int] | None:
    """A factory's declared ``abi`` as (major, minor): an int is a major version (``1`` = 1.0, as declared by
    plugins written for ABI 1.0); None when it is neither an int nor a (major, minor) pair of ints."""
    if isinstance(abi, int) and not isinstance(abi, bool):
        return (abi, 0)
    if (
        isinstance(abi, tuple)
        and len(abi) == 2
        and all(isinstance(part, int) and not isinstance(part, bool) for part in abi)
    ):
        return (abi[0], abi[1])
    return None


def _abi_text(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


# -- reading the installed distributions' entry points --------------------------------------------------------------
# importlib.metadata.entry_points() costs 2-3 ms per call here (it builds a Distribution object per installed
# distribution and parses every entry_points.txt through pathlib), and importing importlib.metadata itself 20-40 ms
# when nothing else did. The common case - distributions in plain sys.path directories, found by the standard path
# finder - is read directly, with the same rules (a distribution's name from its .dist-info / .egg-info directory
# name, the first one on sys.path wins); anything else (zip files, eggs, other finders) goes through importlib.metadata.

_ENTRY_VALUE = re.compile(r"(?P<module>[\w.]+)\s*(:\s*(?P<attr>[\w.]+)\s*)?((?P<extras>\[.*\])\s*)?$")
_UNKNOWN_DIST = "<unknown distribution>"


class InstalledDistribution:
    """An installed distribution; its name and version are read from its metadata only when asked for (messages)."""

    __slots__ = ("_fallback", "_name", "_version", "path")

    def __init__(self, path: str, fallback: Distribution | None = None) -> None:
        self.path = path
        self._fallback = fallback
        self._name: str | None = None
        self._version = "?"

    @property
    def name(self) -> str:
        if self._name is None:
            self._read()
        assert self._name is not None
        return self._name

    @property
    def version(self) -> str:
        if self._name is None:
            self._read()
        return self._version

    def _read(self) -> None:
        if self._fallback is not None:
            self._name, self._version = self._fallback.name or _UNKNOWN_DIST, self._fallback.version or "?"
            return
        name = version = None
        for filename in ("METADATA", "PKG-INFO"):
            try:
                with open(os.path.join(self.path, filename), encoding="utf-8") as file:
                    for line in file:
                        if not line.strip():
                            break  # the end of the headers
                        key, _, value = line.partition(":")
                        if key.strip().lower() == "name" and name is None:
                            name = value.strip()
                        elif key.strip().lower() == "version" and version is None:
                            version = value.strip()
                break
            except OSError:
                continue
        self._name, self._version = name or _UNKNOWN_DIST, version or "?"


class InstalledEntryPoint:
    """An entry point of an installed distribution: the part of ``importlib.metadata.EntryPoint`` the wrapper uses
    (``name``, ``value``, ``group``, ``dist``, ``load()``)."""

    __slots__ = ("dist", "group", "name", "value")

    def __init__(self, name: str, value: str, group: str, dist: InstalledDistribution) -> None:
        self.name = name
        self.value = value
        self.group = group
        self.dist = dist

    def load(self) -> Any:
        """Import the module and return the object the value names (``module:attr.attr``)."""
        match = _ENTRY_VALUE.match(self.value)
        if match is None:
            raise ValueError(f"malformed entry point value {self.value!r} (expected 'module:attribute')")
        obj: Any = importlib.import_module(match.group("module"))
        for attr in filter(None, (match.group("attr") or "").split(".")):
            obj = getattr(obj, attr)
        return obj

    def __repr__(self) -> str:
        return f"InstalledEntryPoint(name={self.name!r}, value={self.value!r}, group={self.group!r})"


def _normalize_dist(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def scan_entry_points(wanted: Callable[[str], bool]) -> dict[str, list[InstalledEntryPoint]]:
    """The entry points of the groups ``wanted`` accepts, of every installed distribution, by group."""
    found = _scan_directories(wanted)
    return found if found is not None else _scan_importlib_metadata(wanted)


def _scan_directories(wanted: Callable[[str], bool]) -> dict[str, list[InstalledEntryPoint]] | None:
    """Read the .dist-info / .egg-info directories of the sys.path directories; None when something only
    importlib.metadata reads may hold distributions (another distribution finder, a zip file, an egg)."""
    from importlib.machinery import PathFinder

    for finder in sys.meta_path:
        if finder is not PathFinder and getattr(finder, "find_distributions", None) is not None:
            return None
    groups: dict[str, list[InstalledEntryPoint]] = {}
    seen: set[str] = set()
    for entry in sys.path:
        root = entry or "."
        try:
            children = os.listdir(root)
        except NotADirectoryError:
            return None  # a zip file or an egg
        except OSError:
            continue  # does not exist (importlib.metadata skips it too)
        if root.lower().endswith(".egg"):
            return None
        for child in children:
            low = child.lower()
            if not low.endswith((".dist-info", ".egg-info")):
                continue
            name = _normalize_dist(low.rpartition(".")[0].partition("-")[0])
            if not name:
                return None  # the name is then read from the metadata
            if name in seen:
                continue  # the first distribution of a name on sys.path wins
            seen.add(name)
            path = os.path.join(root, child)
            try:
                with open(os.path.join(path, "entry_points.txt"), encoding="utf-8") as file:
                    text = file.read()
            except OSError:
                continue
            _parse_entry_points(text, InstalledDistribution(path), wanted, groups)
    return groups


def _parse_entry_points(
    text: str,
    dist: InstalledDistribution,
    wanted: Callable[[str], bool],
    groups: dict[str, list[InstalledEntryPoint]],
) -> None:
    group: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            group = line.strip("[]")
            continue
        name, sep, value = line.partition("=")
        if group is not None and sep and wanted(group):
            groups.setdefault(group, []).append(InstalledEntryPoint(name.strip(), value.strip(), group, dist))


def _scan_importlib_metadata(wanted: Callable[[str], bool]) -> dict[str, list[InstalledEntryPoint]]:
    from importlib.metadata import entry_points

    installed = entry_points()
    dists: dict[int, InstalledDistribution] = {}
    groups: dict[str, list[InstalledEntryPoint]] = {}
    for group in sorted(installed.groups):
        if not wanted(group):
            continue
        for ep in installed.select(group=group):
            source = ep.dist
            dist = dists.get(id(source))
            if dist is None:
                path = str(getattr(source, "_path", "")) if source is not None else ""
                dist = dists[id(source)] = InstalledDistribution(path, source)
            groups.setdefault(group, []).append(InstalledEntryPoint(ep.name, ep.value, group, dist))
    return groups


class _Target:
    """One factory reference (``module:Class``) of one distribution, imported on first use. A conflict (two
    distributions claiming one code) is a target that carries only its problem."""

    __slots__ = ("_label", "code", "dist", "entry_point", "factory", "loaded", "problem", "value")

    def __init__(
        self,
        code: str,
        value: str,
        dist: InstalledDistribution | None,
        entry_point: InstalledEntryPoint | None = None,
        *,
        factory: type[PluginFactory] | None = None,
        problem: str | None = None,
        label: str | None = None,
    ) -> None:
        self.code = code
        self.value = value
        self.dist = dist
        self.entry_point = entry_point
        self.factory = factory
        self.problem = problem
        self.loaded = entry_point is None
        self._label = label

    @property
    def label(self) -> str:
        """``<distribution> <version>`` (read from the distribution's metadata only when a message needs it)."""
        if self._label is None:
            self._label = f"{self.dist.name} {self.dist.version}" if self.dist else f"{_UNKNOWN_DIST} ?"
        return self._label

    @property
    def distribution(self) -> str:
        return self.label.rsplit(" ", 1)[0]


class _Metadata:
    """What one scan of the installed distributions' entry points found."""

    def __init__(self) -> None:
        self.table: dict[str, _Target] = {}  # normalized code or alias -> target
        self.targets: list[_Target] = []  # every distinct factory reference, entry points first
        self.default_names: list[str] = []
        self.setting_names: frozenset[str] = frozenset()
        self.setting_prefixes: frozenset[str] = frozenset()
        self.groups: dict[str, tuple[InstalledEntryPoint, ...]] = {}


class PluginRegistry:
    """Plugin codes resolved from entry-point metadata; factories imported on first request.

    ``group`` is the plugins group; the alias, default-list and settings groups default to the standard ones for
    the standard group and to ``<group>.aliases`` / ``.defaults`` / ``.settings`` for another (tests).
    """

    def __init__(
        self,
        group: str = ENTRY_POINT_GROUP,
        *,
        aliases_group: str | None = None,
        defaults_group: str | None = None,
        settings_group: str | None = None,
    ) -> None:
        standard = group == ENTRY_POINT_GROUP
        self._group = group
        self._aliases_group = aliases_group or (ALIASES_GROUP if standard else f"{group}.aliases")
        self._defaults_group = defaults_group or (DEFAULTS_GROUP if standard else f"{group}.defaults")
        self._settings_group = settings_group or (SETTINGS_GROUP if standard else f"{group}.settings")
        self._lock = threading.RLock()
        self._meta: _Metadata | None = None
        self._extra: list[type[PluginFactory]] = []
        self._setting_keys: tuple[int, frozenset[str], tuple[str, ...]] | None = None
        #: Bumped whenever what the registry knows changes (a scan, a factory imported or registered); caches
        #: derived from it (the setting names, ``wrapper_keys``) compare against it.
        self.generation = 0

    # -- loading -----------------------------------------------------------------------------------------
    def register(self, factory: type[PluginFactory]) -> None:
        """Add a factory directly (tests, applications embedding a plugin without packaging it)."""
        with self._lock:
            self._extra.append(factory)
            self._meta = None

    def reload(self) -> None:
        """Forget what was scanned: the next request reads the installed distributions' metadata again."""
        with self._lock:
            self._meta = None

    def entry_points(self, group: str) -> tuple[InstalledEntryPoint, ...]:
        """The entry points of an ``aws_wrapper.*`` group (dialects, dialect manager, host selectors, ...), from the
        registry's one scan of the installed distributions: reading them costs milliseconds, paid once per process
        (and again after :meth:`reload`) instead of once per group."""
        return self._load().groups.get(group, ())

    def _load(self) -> _Metadata:
        meta = self._meta
        if meta is not None:
            return meta
        with self._lock:
            if self._meta is None:
                self._meta = self._scan(self._extra)
                self.generation += 1
            return self._meta

    def _scan(self, extra: Iterable[type[PluginFactory]]) -> _Metadata:
        meta = _Metadata()
        own = {self._group, self._aliases_group, self._defaults_group, self._settings_group}
        found = scan_entry_points(lambda group: group in own or group.startswith("aws_wrapper."))
        meta.groups = {group: tuple(eps) for group, eps in found.items()}
        by_reference: dict[tuple[int, str], _Target] = {}

        def target_for(ep: InstalledEntryPoint) -> _Target:
            key = (id(ep.dist), ep.value)
            target = by_reference.get(key)
            if target is None:
                target = by_reference[key] = _Target(ep.name, ep.value, ep.dist, ep)
                meta.targets.append(target)
            return target

        for ep in meta.groups.get(self._group, ()):
            self._claim(meta, ep.name, target_for(ep))
        for ep in meta.groups.get(self._aliases_group, ()):
            self._claim(meta, ep.name, target_for(ep))
        for factory in extra:
            target = _Target(
                factory.code,
                "<registered>",
                None,
                factory=factory,
                problem=_abi_problem(factory, ""),
                label="<registered> -",
            )
            meta.targets.append(target)
            for name in (factory.code, *factory.aliases):
                self._claim(meta, name, target)
        meta.default_names = [ep.name for ep in meta.groups.get(self._defaults_group, ())]
        meta.default_names += [f.code for f in extra if f.default]
        names = [ep.name.strip() for ep in meta.groups.get(self._settings_group, ())]
        meta.setting_names = frozenset(n for n in names if not n.endswith("*"))
        meta.setting_prefixes = frozenset(n[:-1] for n in names if n.endswith("*") and n[:-1])
        return meta

    @staticmethod
    def _claim(meta: _Metadata, name: str, target: _Target) -> None:
        key = normalize_code(name)
        other = meta.table.get(key)
        if other is None:
            meta.table[key] = target
        elif other is not target and other.value != _CONFLICT and not _same_distribution(other, target):
            meta.table[key] = _conflict(name, other, target)
        # else: the same factory again, one distribution's second spelling (its first wins), or a known conflict

    def _import(self, target: _Target) -> None:
        if not target.loaded:
            with self._lock:
                self._import_locked(target)

    def _import_locked(self, target: _Target) -> None:
        if not target.loaded:  # another thread may have imported it meanwhile
            ep = target.entry_point
            assert ep is not None  # only entry-point targets start unloaded
            try:
                obj: Any = ep.load()
            except Exception as exc:  # isolation: one broken plugin must not break the others
                logger.warning("plugin %r from %s could not be imported: %s", target.code, target.label, exc)
                target.problem = f"it failed to import: {type(exc).__name__}: {exc}"
            else:
                if not (isinstance(obj, type) and issubclass(obj, PluginFactory)):
                    target.problem = f"{target.value} is not a PluginFactory subclass"
                else:
                    target.factory = obj
                    target.problem = _abi_problem(obj, f" from {target.label}")
            target.loaded = True
            self.generation += 1

    def _find_by_class_names(self, meta: _Metadata, key: str) -> _Target | None:
        """The slow path for a code no entry point declares: import every plugin and match the factories' own
        ``code`` and ``aliases`` (plugins that declare their aliases only in the class)."""
        with self._lock:
            found: _Target | None = None
            for target in list(meta.targets):
                self._import(target)
                factory = target.factory
                if factory is None or key not in {
                    normalize_code(n) for n in (factory.code, *factory.aliases)
                }:
                    continue
                if found is None or found is target or _same_distribution(found, target):
                    found = found or target
                else:
                    found = _conflict(factory.code, found, target)
            if found is not None:
                meta.table[key] = found
            return found

    # -- lookup --------------------------------------------------------------------------------------------
    def _target(self, code: str) -> _Target:
        meta = self._load()
        key = normalize_code(code)
        target = meta.table.get(key) or self._find_by_class_names(meta, key)
        if target is None:
            dist = _FIRST_PARTY.get(key)
            if dist:
                raise PluginError(
                    f"plugin {code!r} is provided by {dist}, which is not installed: pip install {dist}"
                )
            known = ", ".join(sorted({t.factory.code for t in meta.targets if t.factory is not None}))
            raise PluginError(f"unknown plugin code {code!r}; installed plugins: {known or 'none'}")
        return target

    def _factory(self, target: _Target, code: str) -> type[PluginFactory]:
        self._import(target)
        if target.problem is not None or target.factory is None:
            raise PluginError(f"plugin {code!r} cannot be used: {target.problem}")
        return target.factory

    def get(self, code: str) -> type[PluginFactory]:
        """The factory for ``code`` (any accepted spelling); imports that plugin's module, and only that one."""
        return self._factory(self._target(code), code)

    def _defaults(self) -> list[type[PluginFactory]]:
        meta = self._load()
        factories: list[type[PluginFactory]] = []
        for name in meta.default_names:
            target = meta.table.get(normalize_code(name))
            if target is None:
                logger.warning("default plugin %r is declared but no installed plugin has that code", name)
                continue
            self._import(target)
            if target.factory is not None and target.problem is None and target.factory not in factories:
                factories.append(target.factory)
        return sorted(factories, key=lambda f: (f.weight, f.code))

    def default_codes(self) -> list[str]:
        """Codes of the installed default plugins (group ``aws_wrapper.default_plugins``), in weight order. Imports
        those plugins (a default plugin that cannot be used is left out)."""
        return [f.code for f in self._defaults()]

    def all_factories(self) -> list[type[PluginFactory]]:
        """Every installed plugin's factory. Imports every plugin: for tools and documentation, never on a
        connect."""
        meta = self._load()
        for target in list(meta.targets):
            self._import(target)
        return sorted({t.factory for t in meta.targets if t.factory is not None}, key=lambda f: f.code)

    def setting_keys(self) -> tuple[frozenset[str], tuple[str, ...]]:
        """Setting names and key prefixes the installed distributions declare (group ``aws_wrapper.settings``),
        plus those of every factory imported so far (plugins that declare their settings only in the class).
        Imports nothing."""
        meta = self._load()
        cached = self._setting_keys
        if cached is not None and cached[0] == self.generation:
            return cached[1], cached[2]
        with self._lock:
            generation = self.generation
            names = set(meta.setting_names)
            prefixes = set(meta.setting_prefixes)
            for target in meta.targets:
                if target.factory is not None:
                    names.update(s.name for s in target.factory.settings)
                    prefixes.update(target.factory.setting_prefixes)
            self._setting_keys = (generation, frozenset(names), tuple(sorted(prefixes)))
            return self._setting_keys[1], self._setting_keys[2]

    def resolve(self, plugins: str | None, *, auto_sort: bool) -> list[type[PluginFactory]]:
        """The factories for a ``plugins`` setting value (None: the defaults), in pipeline order."""
        if plugins is None:
            return self._defaults()  # already in weight order
        codes = [c.strip() for c in plugins.split(",") if c.strip()]
        factories: list[type[PluginFactory]] = []
        seen: dict[type[PluginFactory], str] = {}
        for code in codes:
            factory = self.get(code)
            if factory in seen:
                raise PluginError(f"plugin {code!r} is listed twice in plugins (also as {seen[factory]!r})")
            seen[factory] = code
            factories.append(factory)
        if not auto_sort:
            return factories
        weights: list[int] = []
        last = 0
        for factory in factories:
            weight = last + 1 if factory.weight == RELATIVE_WEIGHT else factory.weight
            weights.append(weight)
            last = weight
        order = sorted(range(len(factories)), key=lambda i: weights[i])  # stable
        return [factories[i] for i in order]


def _same_distribution(one: _Target, other: _Target) -> bool:
    """Entry points of one scanned distribution share its ``Distribution`` object; registered factories count as
    one distribution (``<registered>``), as before."""
    return one.dist is other.dist


def _conflict(name: str, one: _Target, other: _Target) -> _Target:
    problem = f"plugin code {name!r} is provided by both {one.label} and {other.label}; uninstall one of them"
    logger.warning("%s", problem)
    return _Target(name, _CONFLICT, one.dist, problem=problem, label=one.label)


def _abi_problem(factory: type[PluginFactory], where: str) -> str | None:
    """Why this core cannot load ``factory`` (None: it can): same major ABI, minor at most core's."""
    declared = getattr(factory, "abi", None)
    name = getattr(factory, "code", factory.__name__)
    version = abi_version(declared)
    provided = f"aws-wrapper-core {__version__} provides {_abi_text(PLUGIN_ABI)}"
    if version is None:
        return (
            f"plugin {name!r}{where} declares plugin ABI {declared!r}, which is neither a major version (int) nor "
            f"a (major, minor) tuple; {provided}"
        )
    if version[0] == PLUGIN_ABI[0] and version[1] <= PLUGIN_ABI[1]:
        return None
    advice = "upgrade aws-wrapper-core" if version > PLUGIN_ABI else "upgrade the plugin"
    return f"plugin {name!r}{where} needs plugin ABI {_abi_text(version)}, but {provided}; {advice}"


REGISTRY = PluginRegistry()
