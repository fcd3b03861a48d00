"""The pristine template data directory every MariaDB node starts from.

``mariadb-install-db`` runs once per distinct template (server version + bootstrap SQL + storage options) and
the result is kept in the cache directory; a cluster copies it into ``<work_dir>/mariadb/template`` (tens of
milliseconds instead of about 0.6 s). A data directory holds no absolute paths, so copies are as good as the
original -- the recipe already clones it to every node.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from . import _mysql_build as build
from . import _mysql_sql as msql
from ._errors import ClusterError
from ._mysql_proc import check_reachable, chown_mysql, log_tail

logger = logging.getLogger("aws_wrapper.testing")

MARKER = "template.ok"


def copy_tree(source: Path, target: Path) -> None:
    """``cp -a`` (ownership kept, reflinks where the filesystem has them); ``target`` must not exist."""
    done = subprocess.run(
        ["cp", "-a", "--reflink=auto", str(source), str(target)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise ClusterError(f"cannot copy {str(source)!r} to {str(target)!r}: {done.stderr.strip()}")


def _install(shared: Path, template: Path, bootstrap_sql: str, port: int) -> None:
    install_db = build.find_program("mariadb-install-db")
    if install_db is None:
        raise ClusterError("'mariadb-install-db' not found (apt-get install mariadb-server)")
    template.mkdir()
    error_log = shared / "template-error.log"
    error_log.touch()
    tmpdir = shared / "tmp"
    tmpdir.mkdir(exist_ok=True)
    chown_mysql(template, error_log, tmpdir)
    config = shared / "template.cnf"
    config.write_text(
        msql.option_file(
            datadir=template,
            tmpdir=tmpdir,
            socket=shared / "bootstrap.sock",
            pid_file=shared / "bootstrap.pid",
            error_log=error_log,
            bind=None,
            port=port,
            server_id=None,
        )
    )
    bootstrap = shared / "bootstrap.sql"
    bootstrap.write_text(bootstrap_sql)
    args = [str(install_db), f"--defaults-file={config}", "--skip-test-db", f"--extra-file={bootstrap}"]
    started = time.monotonic()
    with open(shared / "install.log", "wb") as out:
        done = subprocess.run(args, stdout=out, stderr=subprocess.STDOUT, timeout=300, check=False)
    if done.returncode != 0:
        raise ClusterError(
            f"mariadb-install-db failed (exit {done.returncode}):\n{log_tail(shared / 'install.log', 6)}\n"
            f"{log_tail(error_log)}"
        )
    logger.debug("mariadb-install-db took %.2f s", time.monotonic() - started)


def _cache_key(server: build.ServerInfo, bootstrap_sql: str, port: int) -> str:
    placeholder = Path("/")
    options = msql.option_file(
        datadir=placeholder,
        tmpdir=placeholder,
        socket=placeholder,
        pid_file=placeholder,
        error_log=placeholder,
        bind=None,
        port=port,
        server_id=None,
    )
    material = "\0".join([str(server.binary), server.version, options, bootstrap_sql])
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def ensure_template(
    shared: Path, server: build.ServerInfo, bootstrap_sql: str, port: int, cache: Path | None
) -> Path:
    """``<shared>/template``: copied from the cache, or built (and then cached). Returns its path."""
    template = shared / "template"
    if (shared / MARKER).exists():
        return template
    shared.mkdir(parents=True, exist_ok=True)
    check_reachable(shared)
    if template.exists():
        shutil.rmtree(template)
    cached = (cache or build.cache_dir()) / f"mariadb-template-{_cache_key(server, bootstrap_sql, port)}"
    if (cached / MARKER).is_file():
        copy_tree(cached / "data", template)
    else:
        _install(shared, template, bootstrap_sql, port)
        try:
            _store(template, cached)
        except (OSError, ClusterError) as exc:  # a read-only cache only costs time
            logger.warning("cannot cache the MariaDB template in %s: %s", cached, exc)
    (shared / MARKER).touch()
    return template


def _store(template: Path, cached: Path) -> None:
    cached.parent.mkdir(parents=True, exist_ok=True)
    if cached.exists() and not (cached / MARKER).exists():
        shutil.rmtree(cached, ignore_errors=True)  # left over by an interrupted run
    staging = Path(tempfile.mkdtemp(prefix=".template-", dir=cached.parent))
    try:
        copy_tree(template, staging / "data")
        (staging / MARKER).touch()
        try:
            os.rename(staging, cached)  # atomic; loses harmlessly to a concurrent writer
        except OSError:
            pass
    finally:
        shutil.rmtree(staging, ignore_errors=True)
