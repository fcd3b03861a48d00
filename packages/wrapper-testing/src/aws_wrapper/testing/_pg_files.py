"""Fast PostgreSQL data directory creation: a cached ``initdb`` result, and file-level copies.

``initdb`` takes about a second on a small machine; its result depends only on the server binaries and the
options, so the first run is kept in the cache directory (``$AWS_WRAPPER_TESTING_CACHE``, else
``$XDG_CACHE_HOME/aws-wrapper-testing``, else ``~/.cache/aws-wrapper-testing``; ``AWS_WRAPPER_TESTING_CACHE=off``
disables it) and later clusters copy it (about 0.1 s). A replica is cloned the same way, with PostgreSQL's
low-level backup API around a plain file copy, which is several times faster than ``pg_basebackup``'s
protocol on a small machine.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import subprocess
from pathlib import Path

from . import _proc
from ._errors import ClusterError

log = logging.getLogger("aws_wrapper.testing")

INITDB_OPTIONS = (
    "-U",
    "postgres",
    "--auth=trust",
    "-E",
    "UTF8",
    "--locale=C",
    "--no-sync",
    "--no-instructions",
)
# contents a copy of a running data directory must not carry over (the PostgreSQL docs list them for backups)
_SKIP_FILES = ("postmaster.pid", "postmaster.opts", "backup_label", "tablespace_map", "standby.signal")
_EMPTY_DIRS = (
    "pg_replslot",
    "pg_dynshmem",
    "pg_notify",
    "pg_serial",
    "pg_snapshots",
    "pg_stat_tmp",
    "pg_subtrans",
)


def cache_dir() -> Path | None:
    """The cache directory, or None when caching is switched off."""
    explicit = os.environ.get("AWS_WRAPPER_TESTING_CACHE")
    if explicit:
        return None if explicit.lower() in ("off", "0", "no", "none") else Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "aws-wrapper-testing"


def copy_tree(src: Path, dst: Path, *, skip_wal: bool = False) -> None:
    """``cp -a src dst`` (owners and modes kept). Files that vanish while a live directory is copied are
    not errors: the backup API (or WAL replay) covers them. ``skip_wal`` leaves ``pg_wal`` empty: a standby
    streams the WAL from its writer instead."""
    if skip_wal:
        dst.mkdir(mode=0o700)
        st = src.stat()
        entries = [str(p) for p in src.iterdir() if p.name != "pg_wal"]
        _cp([*entries, str(dst)], src, dst)
        for folder in (dst, dst / "pg_wal", dst / "pg_wal" / "archive_status"):
            folder.mkdir(mode=0o700, exist_ok=True)
            with contextlib.suppress(PermissionError):
                os.chown(folder, st.st_uid, st.st_gid)
        return
    _cp([str(src), str(dst)], src, dst)


def _cp(args: list[str], src: Path, dst: Path) -> None:
    done = subprocess.run(["cp", "-a", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        problems = [line for line in done.stderr.splitlines() if "No such file or directory" not in line]
        if problems:
            raise ClusterError(f"copying {str(src)!r} to {str(dst)!r} failed: {' '.join(problems)[:2000]}")


def _template_key(bin_dir: Path) -> str:
    postgres = bin_dir / "postgres"
    st = postgres.stat()
    text = f"{postgres.resolve()}|{st.st_size}|{st.st_mtime_ns}|{' '.join(INITDB_OPTIONS)}|{os.geteuid()}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def initdb(bin_dir: Path, data_dir: Path, os_user: str | None) -> None:
    """Create a fresh, unconfigured data directory at ``data_dir`` (from the cache when possible)."""
    cache = cache_dir()
    template = cache / f"pg-initdb-{_template_key(bin_dir)}" if cache is not None else None
    if template is not None and (template / "PG_VERSION").exists():
        try:
            copy_tree(template, data_dir)
            return
        except ClusterError as exc:
            log.warning("cached initdb template unusable (%s); running initdb", exc)
            shutil.rmtree(data_dir, ignore_errors=True)
    _proc.run(
        [str(bin_dir / "initdb"), "-D", str(data_dir), *INITDB_OPTIONS],
        user=os_user,
        env={**os.environ, "LC_ALL": "C"},
        what=f"initdb of {str(data_dir)!r}",
    )
    if template is None:
        return
    staging = template.with_name(f"{template.name}.tmp-{os.getpid()}")
    try:
        template.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
        copy_tree(data_dir, staging)
        os.rename(staging, template)  # atomic; loses harmlessly to a concurrent cluster doing the same
    except (OSError, ClusterError) as exc:
        log.info("could not cache the initdb result in %s: %s", template, exc)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def prepare_copy(data_dir: Path, backup_label: str, os_user: str | None) -> None:
    """Turn a file copy of a running server's data directory into a standby's: drop what must not carry
    over, empty the runtime directories, and write the ``backup_label`` that ``pg_backup_stop`` returned."""
    for name in _SKIP_FILES:
        with contextlib.suppress(FileNotFoundError):
            (data_dir / name).unlink()
    for name in _EMPTY_DIRS:
        folder = data_dir / name
        if folder.is_dir():
            for child in folder.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    with contextlib.suppress(FileNotFoundError):
                        child.unlink()
    for name, text in (("backup_label", backup_label), ("standby.signal", "")):
        path = data_dir / name
        path.write_text(text)
        path.chmod(0o600)
        _proc.chown_to(path, os_user)
