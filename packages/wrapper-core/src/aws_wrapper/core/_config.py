"""The core's own settings (catalogue 2.1 and 2.2) and their parsed, frozen form."""

from __future__ import annotations

from collections.abc import Mapping

from .records import record, replace
from .settings import Setting, boolean, number, optional, text

#: Seconds allowed to open a connection when ``connect_timeout`` is not set (``connect_timeout=0``: no limit).
DEFAULT_CONNECT_TIMEOUT = 30.0


def split_plugin_codes(value: str) -> list[str]:
    """The codes of a ``plugins`` value, stripped. Blank: no plugins. Raises ``ValueError`` for an empty code
    (``"failover,,efm"``, ``"failover,"``, ``" , "``)."""
    if not value.strip():
        return []
    codes = [code.strip() for code in value.split(",")]
    for position, code in enumerate(codes, 1):
        if not code:
            raise ValueError(
                f"plugin code {position} of {len(codes)} is empty (separate codes with single commas; "
                "use plugins='' for no plugins)"
            )
    return codes


def _plugins(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a string of comma-separated plugin codes")
    split_plugin_codes(value)
    return value


_SECONDS = number("connect_timeout", 0.0, "", min=None).parse


def _connect_timeout(value: object) -> float:
    seconds = float(_SECONDS(value))
    if seconds != 0 and seconds < 0.001:
        raise ValueError("must be at least 0.001, or 0 for no limit")
    return seconds


PLUGINS: Setting[str | None] = Setting(
    "plugins",
    _plugins,
    None,
    "Comma-separated plugin codes, outermost first. Unset: the default plugins that are installed.",
    type_name="str",
)
AUTO_SORT = boolean(
    "auto_sort_wrapper_plugin_order", True, "Sort the requested plugins by their declared weight (stable)."
)
WRAPPER_DIALECT = optional(
    text("wrapper_dialect", "", "Force a database dialect code; disables dialect probing.")
)
WRAPPER_DRIVER_DIALECT = optional(
    text("wrapper_driver_dialect", "", "Force a driver dialect: psycopg, mysql-connector-python.")
)
AUX_QUERY_TIMEOUT = number(
    "auxiliary_query_timeout_sec",
    5.0,
    "Timeout of the wrapper's own queries (topology, role checks, probes).",
    min=0.001,
)
TRANSFER_STATE = boolean(
    "transfer_session_state_on_switch",
    True,
    "Carry autocommit, read-only and isolation level to a new connection.",
)
RESET_STATE = boolean(
    "reset_session_state_on_close",
    True,
    "Restore the pristine session state of a connection before the wrapper closes it.",
)
ROLLBACK_ON_SWITCH = boolean(
    "rollback_on_switch",
    True,
    "Roll back an open transaction on the old connection when the connection is switched.",
)
CONNECT_TIMEOUT: Setting[float | None] = Setting(
    "connect_timeout",
    _connect_timeout,
    None,
    f"Seconds allowed to open a connection; unset: {DEFAULT_CONNECT_TIMEOUT:g}; 0: no limit.",
    type_name="float",
)
SOCKET_TIMEOUT = optional(
    number(
        "socket_timeout",
        0.0,
        "Seconds allowed for one network-bound call; then the connection is aborted.",
        min=0.001,
    )
)
TCP_KEEPALIVE = optional(boolean("tcp_keepalive", False, "Enable TCP keepalive on database connections."))
TCP_KEEPALIVE_TIME = optional(
    number("tcp_keepalive_time", 0.0, "Idle seconds before the first keepalive probe.", min=1)
)
TCP_KEEPALIVE_INTERVAL = optional(
    number("tcp_keepalive_interval", 0.0, "Seconds between keepalive probes.", min=1)
)
TCP_KEEPALIVE_PROBES = optional(
    number("tcp_keepalive_probes", 0.0, "Unanswered probes before the connection is declared dead.", min=1)
)
DATABASE = optional(text("database", "", "Database name (dbname for psycopg, database for mysql-connector)."))

CORE_SETTINGS: tuple[Setting[object], ...] = (  # type: ignore[assignment]
    PLUGINS,
    AUTO_SORT,
    WRAPPER_DIALECT,
    WRAPPER_DRIVER_DIALECT,
    AUX_QUERY_TIMEOUT,
    TRANSFER_STATE,
    RESET_STATE,
    ROLLBACK_ON_SWITCH,
    CONNECT_TIMEOUT,
    SOCKET_TIMEOUT,
    TCP_KEEPALIVE,
    TCP_KEEPALIVE_TIME,
    TCP_KEEPALIVE_INTERVAL,
    TCP_KEEPALIVE_PROBES,
    DATABASE,
)

# Settings the driver dialects consume (mapped to driver arguments) rather than strip.
DRIVER_MAPPED = frozenset(
    {
        "connect_timeout",
        "tcp_keepalive",
        "tcp_keepalive_time",
        "tcp_keepalive_interval",
        "tcp_keepalive_probes",
        "database",
    }
)


@record(frozen=True)
class CoreConfig:
    plugins: str | None
    auto_sort: bool
    wrapper_dialect: str | None
    wrapper_driver_dialect: str | None
    aux_query_timeout: float
    transfer_session_state: bool
    reset_session_state: bool
    rollback_on_switch: bool
    #: As set: None when unset (then :data:`DEFAULT_CONNECT_TIMEOUT` applies), 0.0 for "no limit". Driver
    #: dialects receive :meth:`for_connect`'s config, where it is the bound to apply (None: no limit).
    connect_timeout: float | None
    socket_timeout: float | None
    tcp_keepalive: bool | None
    tcp_keepalive_time: float | None
    tcp_keepalive_interval: float | None
    tcp_keepalive_probes: float | None
    database: str | None

    @classmethod
    def parse(cls, props: Mapping[str, object]) -> CoreConfig:
        return cls(
            plugins="" if props.get("plugins") == "" else PLUGINS.get(props),  # "": no plugins at all
            auto_sort=AUTO_SORT.get(props),
            wrapper_dialect=WRAPPER_DIALECT.get(props),
            wrapper_driver_dialect=WRAPPER_DRIVER_DIALECT.get(props),
            aux_query_timeout=AUX_QUERY_TIMEOUT.get(props),
            transfer_session_state=TRANSFER_STATE.get(props),
            reset_session_state=RESET_STATE.get(props),
            rollback_on_switch=ROLLBACK_ON_SWITCH.get(props),
            connect_timeout=CONNECT_TIMEOUT.get(props),
            socket_timeout=SOCKET_TIMEOUT.get(props),
            tcp_keepalive=TCP_KEEPALIVE.get(props),
            tcp_keepalive_time=TCP_KEEPALIVE_TIME.get(props),
            tcp_keepalive_interval=TCP_KEEPALIVE_INTERVAL.get(props),
            tcp_keepalive_probes=TCP_KEEPALIVE_PROBES.get(props),
            database=DATABASE.get(props),
        )

    @property
    def effective_connect_timeout(self) -> float | None:
        """Seconds a connect may take: the setting, :data:`DEFAULT_CONNECT_TIMEOUT` when unset, None (no
        limit) for 0."""
        if self.connect_timeout is None:
            return DEFAULT_CONNECT_TIMEOUT or None
        return self.connect_timeout or None

    def for_connect(self) -> CoreConfig:
        """This config with ``connect_timeout`` replaced by :attr:`effective_connect_timeout`: what a driver
        dialect's ``prepare_connect_args`` receives."""
        effective = self.effective_connect_timeout
        if effective == self.connect_timeout:
            return self
        return replace(self, connect_timeout=effective)
