from __future__ import annotations

import re

import aws_wrapper.custom_endpoint


def test_version_is_pep440() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+(\.dev\d+|rc\d+)?", aws_wrapper.custom_endpoint.__version__)
