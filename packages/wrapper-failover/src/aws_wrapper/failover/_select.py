"""Candidate order for reader searches, through the connection's host selection service (core ABI 1.1): the
connection's host filters apply, and strategies come from core, from distributions that register one, or from a
plugin of the connection (``accepts_strategy`` / ``get_host_info_by_strategy``)."""

from __future__ import annotations

from collections.abc import Sequence

from aws_wrapper.core.errors import ConfigurationError
from aws_wrapper.core.hostinfo import HostInfo, HostRole
from aws_wrapper.core.selectors import known_strategy
from aws_wrapper.core.services import PluginContext

__all__ = ["order_hosts", "check_strategy", "check_strategy_of_connection", "FASTEST_RESPONSE"]

#: Without a plugin that measures response times, a reader search races every candidate at once and takes the
#: first to answer: the fastest responder, by construction.
FASTEST_RESPONSE = "fastest_response"


def _name(strategy: str) -> str:
    return strategy.strip().lower().replace("-", "_")


def check_strategy(strategy: str, setting: str) -> None:
    """Syntax only, before connecting: a strategy may be provided by a plugin of the connection, which is
    checked once the pipeline exists (:func:`check_strategy_of_connection`)."""
    if not _name(strategy):
        raise ConfigurationError(
            f"invalid value {strategy!r} for setting {setting!r}: a strategy name is required"
        )


def check_strategy_of_connection(context: PluginContext, strategy: str, setting: str) -> None:
    name = _name(strategy)
    if name == FASTEST_RESPONSE or known_strategy(name):
        return
    if context.selection.accepts_strategy(HostRole.READER, name):
        return
    raise ConfigurationError(
        f"invalid value {strategy!r} for setting {setting!r}: no installed host selection strategy or plugin of "
        "this connection provides it (core: random, round_robin, weighted_random, highest_weight, "
        "least_connections; fastest_response)"
    )


def order_hosts(context: PluginContext, hosts: Sequence[HostInfo], strategy: str) -> list[HostInfo]:
    """The readers among ``hosts`` that the connection's filters allow, in the order the strategy prefers them
    (hosts known to be down last). For ``fastest_response`` without a plugin providing it, the order does not
    matter: callers race them (see :func:`is_race_strategy`)."""
    name = _name(strategy)
    readers = [h for h in hosts if h.role is HostRole.READER]
    if is_race_strategy(context, name):
        return list(context.selection.allowed(readers))
    return context.selection.order(HostRole.READER, name, readers)


def is_race_strategy(context: PluginContext, strategy: str) -> bool:
    name = _name(strategy)
    return name == FASTEST_RESPONSE and not context.selection.accepts_strategy(HostRole.READER, name)
