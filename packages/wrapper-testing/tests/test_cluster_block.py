"""Loopback address blocks: claiming, layout inside a block, and the port fallback."""

from __future__ import annotations

import socket

import pytest

from aws_wrapper.testing import ClusterError
from aws_wrapper.testing._block import _choose_port, claim_block


def test_two_claims_get_different_blocks_and_release_frees_one() -> None:
    first = claim_block(5432)
    second = claim_block(5432)
    try:
        assert first.prefix != second.prefix
        with pytest.raises(ClusterError, match="no free loopback block"):
            claim_block(5432, prefix=first.prefix)
        first.release()
        assert not first.claimed
        again = claim_block(5432, prefix=first.prefix)
        assert again.prefix == first.prefix
        again.release()
        first.release()  # idempotent
    finally:
        first.release()
        second.release()


def test_layout_inside_a_block() -> None:
    block = claim_block(5432)
    try:
        p = block.prefix
        assert p.startswith("127.")
        assert not p.startswith("127.0.")
        assert (block.writer_host, block.reader_host) == (f"{p}.10", f"{p}.9")
        assert (block.proxy_host(1), block.server_host(1)) == (f"{p}.11", f"{p}.111")
        assert block.proxy_host(99) == f"{p}.109"
        assert block.contains(f"{p}.11")
        assert not block.contains("127.0.0.1")
        for bad in (0, 100):
            with pytest.raises(ClusterError, match=f"index {bad}"):
                block.proxy_host(bad)
    finally:
        block.release()


def test_a_port_taken_machine_wide_makes_the_block_use_another(free_port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as wildcard:
        wildcard.bind(("0.0.0.0", free_port))
        wildcard.listen(1)
        block = claim_block(free_port)
        try:
            assert block.port != free_port
            assert _choose_port(block.prefix, free_port) == block.port
        finally:
            block.release()


def test_a_bad_prefix_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"127\.300"):
        claim_block(5432, prefix="127.300.1")
