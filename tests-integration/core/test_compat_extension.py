"""Gap G7: other distributions add modules to the compat package ``aws_advanced_python_wrapper`` (upstream code
imports ``aws_advanced_python_wrapper.sqlalchemy_dialects``, ``...django.backends.mysql_connector``, ...). The
fixture distribution aws-wrapper-test-compat-extension (tests-integration/fixtures/compat-extension) ships
``aws_advanced_python_wrapper/test_extension.py`` and ``.../test_extension_pkg/backends.py`` from its own source
directory (an editable install), found through the ``__path__`` extension of core's ``__init__``."""

from __future__ import annotations

import importlib
import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest

import aws_advanced_python_wrapper

pytestmark = pytest.mark.integration

DIST = "aws-wrapper-test-compat-extension"


@pytest.fixture(scope="module")
def extension() -> importlib.metadata.Distribution:
    try:
        return importlib.metadata.distribution(DIST)
    except importlib.metadata.PackageNotFoundError:
        pytest.fail(f"{DIST} is not installed: pip install -e tests-integration/fixtures/compat-extension")


def test_modules_of_another_distribution_import_from_the_compat_package(
    extension: importlib.metadata.Distribution,
) -> None:
    test_extension = importlib.import_module("aws_advanced_python_wrapper.test_extension")
    backends = importlib.import_module("aws_advanced_python_wrapper.test_extension_pkg.backends")

    assert test_extension.PROVIDED_BY == DIST
    assert test_extension.AwsWrapperConnection is aws_advanced_python_wrapper.AwsWrapperConnection
    assert backends.PROVIDED_BY == DIST
    assert backends.__name__ == "aws_advanced_python_wrapper.test_extension_pkg.backends"


def test_they_live_in_the_other_distributions_directory(extension: importlib.metadata.Distribution) -> None:
    test_extension = importlib.import_module("aws_advanced_python_wrapper.test_extension")
    core_dir = Path(aws_advanced_python_wrapper.__file__).parent
    assert (
        Path(str(test_extension.__file__)).parent != core_dir
    )  # an editable install: a second sys.path entry
    assert str(Path(str(test_extension.__file__)).parent) in aws_advanced_python_wrapper.__path__
    assert str(core_dir) == aws_advanced_python_wrapper.__path__[0]  # core's own modules come first
    from aws_advanced_python_wrapper import errors

    assert Path(errors.__file__).parent == core_dir


def test_in_a_fresh_interpreter(extension: importlib.metadata.Distribution) -> None:
    code = (
        "import aws_advanced_python_wrapper.test_extension as t, "
        "aws_advanced_python_wrapper.test_extension_pkg.backends as b, "
        "aws_advanced_python_wrapper.errors as e; print(t.PROVIDED_BY, b.PROVIDED_BY, e.FailoverSuccessError.__name__)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.split() == [DIST, DIST, "FailoverSuccessError"]
