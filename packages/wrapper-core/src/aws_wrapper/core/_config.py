"""The core's own settings (catalogue 2.1 and 2.2) and their parsed, frozen form."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .settings import Setting, boolean, number, optional, text

PLUGINS = optional(
    text(
        "plugins",
        "",
        "Comma-separated plugin codes, outermost first. Unset: the default plugins that are installed.",
    )
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
CONNECT_TIMEOUT = optional(number("connect_timeout", 0.0, "Seconds allowed to open a connection.", min=0.001))
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


@dataclass(frozen=True)
class CoreConfig:
    plugins: str | None
    auto_sort: bool
    wrapper_dialect: str | None
    wrapper_driver_dialect: str | None
    aux_query_timeout: float
    transfer_session_state: bool
    reset_session_state: bool
    rollback_on_switch: bool
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
