"""Plugin discovery over the entry-point group ``aws_wrapper.plugins``, validated when loaded.

Loading happens once per process, on the first connect (never at import). A plugin that fails to import, declares
another ABI, or claims a code another distribution already claims is recorded as broken: requesting it raises a
:class:`PluginError` that says why, and every other plugin keeps working.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import PluginError
from .plugin import PLUGIN_ABI, RELATIVE_WEIGHT, PluginFactory
from .version import __version__

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

__all__ = ["PluginRegistry", "REGISTRY", "normalize_code", "ENTRY_POINT_GROUP"]

logger = logging.getLogger("aws_wrapper.core")
ENTRY_POINT_GROUP = "aws_wrapper.plugins"

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


@dataclass(frozen=True)
class _Entry:
    code: str
    distribution: str
    dist_version: str
    factory: type[PluginFactory] | None
    problem: str | None = None


class PluginRegistry:
    def __init__(self, group: str = ENTRY_POINT_GROUP) -> None:
        self._group = group
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] | None = None
        self._extra: list[type[PluginFactory]] = []
        #: Bumped whenever the set of plugins is (re)loaded; caches derived from it compare against it.
        self.generation = 0

    # -- loading -----------------------------------------------------------------------------------------
    def register(self, factory: type[PluginFactory]) -> None:
        """Add a factory directly (tests, applications embedding a plugin without packaging it)."""
        with self._lock:
            self._extra.append(factory)
            self._entries = None

    def reload(self) -> None:
        with self._lock:
            self._entries = None

    def _load(self) -> dict[str, _Entry]:
        entries = self._entries
        if entries is not None:
            return entries
        with self._lock:
            if self._entries is None:
                from importlib.metadata import entry_points  # costly to import: only when first needed

                self._entries = self._discover(entry_points(group=self._group), self._extra)
                self.generation += 1
            return self._entries

    @staticmethod
    def _discover(eps: Iterable[EntryPoint], extra: Sequence[type[PluginFactory]]) -> dict[str, _Entry]:
        found: list[_Entry] = []
        for ep in eps:
            dist = ep.dist.name if ep.dist is not None else "<unknown distribution>"
            version = ep.dist.version if ep.dist is not None else "?"
            try:
                obj: Any = ep.load()
            except Exception as exc:  # isolation: one broken plugin must not break the others
                logger.warning("plugin %r from %s could not be imported: %s", ep.name, dist, exc)
                found.append(
                    _Entry(ep.name, dist, version, None, f"it failed to import: {type(exc).__name__}: {exc}")
                )
                continue
            if not (isinstance(obj, type) and issubclass(obj, PluginFactory)):
                found.append(
                    _Entry(ep.name, dist, version, None, f"{ep.value} is not a PluginFactory subclass")
                )
                continue
            found.append(_Entry(ep.name, dist, version, obj, PluginRegistry._abi_problem(obj, dist, version)))
        for factory in extra:
            found.append(
                _Entry(
                    factory.code, "<registered>", "-", factory, PluginRegistry._abi_problem(factory, "", "")
                )
            )

        table: dict[str, _Entry] = {}
        for entry in found:
            names = {entry.code}
            if entry.factory is not None:
                names |= {entry.factory.code, *entry.factory.aliases}
            for name in names:
                key = normalize_code(name)
                other = table.get(key)
                if other is not None and other.distribution != entry.distribution:
                    problem = (
                        f"plugin code {name!r} is provided by both {other.distribution} {other.dist_version} and "
                        f"{entry.distribution} {entry.dist_version}; uninstall one of them"
                    )
                    logger.warning("%s", problem)
                    table[key] = _Entry(name, other.distribution, other.dist_version, None, problem)
                elif other is None:
                    table[key] = entry
        return table

    @staticmethod
    def _abi_problem(factory: type[PluginFactory], dist: str, version: str) -> str | None:
        abi = getattr(factory, "abi", None)
        if abi != PLUGIN_ABI:
            where = f" from {dist} {version}" if dist else ""
            return (
                f"plugin {getattr(factory, 'code', factory.__name__)!r}{where} was built for plugin ABI {abi!r}, "
                f"but aws-wrapper-core {__version__} provides ABI {PLUGIN_ABI}"
            )
        return None

    # -- lookup --------------------------------------------------------------------------------------------
    def get(self, code: str) -> type[PluginFactory]:
        entry = self._load().get(normalize_code(code))
        if entry is None:
            dist = _FIRST_PARTY.get(normalize_code(code))
            if dist:
                raise PluginError(
                    f"plugin {code!r} is provided by {dist}, which is not installed: pip install {dist}"
                )
            known = ", ".join(sorted({e.factory.code for e in self._load().values() if e.factory}))
            raise PluginError(f"unknown plugin code {code!r}; installed plugins: {known or 'none'}")
        if entry.problem is not None or entry.factory is None:
            raise PluginError(f"plugin {code!r} cannot be used: {entry.problem}")
        return entry.factory

    def default_codes(self) -> list[str]:
        """Codes of installed plugins marked ``default``, in weight order."""
        factories = {e.factory for e in self._load().values() if e.factory is not None and e.problem is None}
        defaults = sorted((f for f in factories if f.default), key=lambda f: (f.weight, f.code))
        return [f.code for f in defaults]

    def all_factories(self) -> list[type[PluginFactory]]:
        return sorted(
            {e.factory for e in self._load().values() if e.factory is not None}, key=lambda f: f.code
        )

    def resolve(self, plugins: str | None, *, auto_sort: bool) -> list[type[PluginFactory]]:
        """The factories for a ``plugins`` setting value (None: the defaults), in pipeline order."""
        codes = self.default_codes() if plugins is None else [c.strip() for c in plugins.split(",") if c.strip()]
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


REGISTRY = PluginRegistry()
