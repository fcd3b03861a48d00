from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aws_wrapper.core.conninfo import parse_conninfo, render_conninfo
from aws_wrapper.core.errors import ConfigurationError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", {}),
        ("   ", {}),
        (
            "host=127.0.0.1 dbname=postgres user=postgres",
            {"host": "127.0.0.1", "dbname": "postgres", "user": "postgres"},
        ),
        ("host = h  port= 5432", {"host": "h", "port": "5432"}),
        ("password='a b\\'c' x=1", {"password": "a b'c", "x": "1"}),
        ("application_name=''", {"application_name": ""}),
        ("path=C:\\\\dir", {"path": "C:\\dir"}),
        ("a=1 a=2", {"a": "2"}),
        ("opt=-c\\ search_path=x", {"opt": "-c search_path=x"}),
        (
            "plugins=failover,efm topology-monitoring-connect_timeout=3",
            {"plugins": "failover,efm", "topology-monitoring-connect_timeout": "3"},
        ),
    ],
)
def test_key_value_strings(text: str, expected: dict[str, str]) -> None:
    assert parse_conninfo(text) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "postgresql://u:p%40ss@db.example:6543/mydb?sslmode=disable&plugins=failover",
            {
                "user": "u",
                "password": "p@ss",
                "host": "db.example",
                "port": "6543",
                "database": "mydb",
                "sslmode": "disable",
                "plugins": "failover",
            },
        ),
        ("postgres://h", {"host": "h"}),
        (
            "mysql://root@127.0.0.1:3306/test",
            {"user": "root", "host": "127.0.0.1", "port": "3306", "database": "test"},
        ),
        ("postgresql://[::1]:5432/db", {"host": "::1", "port": "5432", "database": "db"}),
        ("postgresql://%2Fvar%2Frun%2Fpostgresql/db", {"host": "/var/run/postgresql", "database": "db"}),
        ("postgresql://u:@h", {"user": "u", "password": "", "host": "h"}),
    ],
)
def test_urls(url: str, expected: dict[str, str]) -> None:
    assert parse_conninfo(url) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("host", "missing '=' after key 'host'"),
        ("=x", "expected a key"),
        ("host=h 9port=1", "expected a key"),
        ("password='abc", "unterminated quoted value for key 'password'"),
        ("a='x'y", "after quoted value of 'a'"),
        ("postgresql://h1,h2/db", "multiple hosts are not supported"),
        ("postgresql://h:99999/db", "malformed connection url"),
        ("postgresql://[::1/db", "malformed connection url"),
    ],
)
def test_malformed_strings_name_the_problem(text: str, fragment: str) -> None:
    with pytest.raises(ConfigurationError, match=r"malformed|multiple") as info:
        parse_conninfo(text)
    assert fragment in str(info.value)


def test_non_string_conninfo_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="conninfo must be a string, got bytes"):
        parse_conninfo(b"host=x")  # type: ignore[arg-type]


def test_render_quotes_what_needs_quoting() -> None:
    assert render_conninfo({"a": "x", "b": "", "c": "it's", "d": "a b", "e": None}) == (
        "a=x b='' c='it\\'s' d='a b' e=''"
    )
    with pytest.raises(ConfigurationError, match="cannot render conninfo key 'bad key'"):
        render_conninfo({"bad key": "v"})


# -- properties -----------------------------------------------------------------------------------------------

_keys = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.\-]{0,15}", fullmatch=True)
_values = st.text(max_size=40)


@settings(max_examples=400, deadline=None, database=None)
@given(st.text(max_size=120))
def test_parse_never_crashes_on_arbitrary_text(text: str) -> None:
    try:
        result = parse_conninfo(text)
    except ConfigurationError:
        return
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in result.items())


_url_alphabet = st.sampled_from(list("postgresqlmyaid:/@[]%?&=,.-_ 0123456789abcxyz:\\'\t"))


@settings(max_examples=400, deadline=None, database=None)
@given(
    st.sampled_from(["postgresql://", "postgres://", "mysql://", "mariadb://"]),
    st.text(_url_alphabet, max_size=60),
)
def test_parse_never_crashes_on_url_like_text(scheme: str, rest: str) -> None:
    try:
        result = parse_conninfo(scheme + rest)
    except ConfigurationError:
        return
    assert all(isinstance(v, str) for v in result.values())


@settings(max_examples=400, deadline=None, database=None)
@given(st.text(st.sampled_from(list("ab= '\\\t\n")), max_size=40))
def test_parse_never_crashes_on_quote_heavy_text(text: str) -> None:
    try:
        parse_conninfo(text)
    except ConfigurationError:
        pass


@settings(max_examples=400, deadline=None, database=None)
@given(st.dictionaries(_keys, _values, max_size=8))
def test_parse_reads_back_what_render_writes(props: dict[str, str]) -> None:
    assert parse_conninfo(render_conninfo(props)) == props
