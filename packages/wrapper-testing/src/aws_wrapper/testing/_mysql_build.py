"""MariaDB server discovery and the ``aurora_sim`` daemon plugin (build, cache, install).

The plugin gives a local MariaDB server the Aurora MySQL variables ``@@aurora_server_id`` and
``@@aurora_version``. It is compiled with gcc against MariaDB's public plugin headers, which come from Debian's
``libmariadbd-dev``. When the headers are not installed, the package is fetched with ``apt-get download`` and
only its headers are unpacked into the cache directory. Nothing is installed system-wide except the compiled
plugin, which must live in the server's ``@@plugin_dir`` because ``plugin-load-add`` accepts no path.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import importlib.resources
import logging
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ._errors import ClusterError

logger = logging.getLogger("aws_wrapper.testing")

PLUGIN_FILE = "aurora_sim.so"  # the name in @@plugin_dir, used by plugin-load-add
HEADERS_PACKAGE = "libmariadbd-dev"
SYSTEM_HEADERS = Path("/usr/include/mariadb/server")
_SERVER_DIRS = ("/usr/sbin", "/usr/local/sbin", "/usr/local/mysql/bin")


def cache_dir() -> Path:
    """Where compiled plugins and unpacked headers are kept between clusters.

    ``$AWS_WRAPPER_TESTING_CACHE`` if set, else ``$XDG_CACHE_HOME/aws-wrapper-testing``, else
    ``~/.cache/aws-wrapper-testing``.
    """
    explicit = os.environ.get("AWS_WRAPPER_TESTING_CACHE")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "aws-wrapper-testing"


def find_program(name: str) -> Path | None:
    """``name`` on PATH or in the usual server directories (sbin is often not on a user's PATH)."""
    found = shutil.which(name) or shutil.which(name, path=os.pathsep.join(_SERVER_DIRS))
    return Path(found) if found else None


@dataclass(frozen=True)
class ServerInfo:
    """Facts about the ``mariadbd`` binary that the cluster runs."""

    binary: Path
    version: str  # "10.11.19"
    version_id: int  # 101119, as MYSQL_VERSION_ID
    plugin_dir: Path


@functools.lru_cache(maxsize=4)
def server_info(binary: Path) -> ServerInfo:
    """Ask ``binary`` for its version and compiled-in plugin directory (about 0.1 s, cached per process)."""
    try:
        out = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
        # --no-defaults: the machine's /etc/mysql may move plugin_dir; the cluster's option files do not.
        help_text = subprocess.run(
            [str(binary), "--no-defaults", "--verbose", "--help"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise ClusterError(f"cannot run {str(binary)!r}: {exc}") from exc
    match = re.search(r"Ver (\d+)\.(\d+)\.(\d+)", out)
    if match is None:
        raise ClusterError(f"cannot parse the version of {str(binary)!r} from {out.strip()!r}")
    major, minor, patch = (int(part) for part in match.groups())
    plugin_dir = next(
        (line.split(None, 1)[1].strip() for line in help_text.splitlines() if line.startswith("plugin-dir ")),
        "",
    )
    if not plugin_dir:
        raise ClusterError(f"cannot find the plugin directory of {str(binary)!r} in its --help output")
    return ServerInfo(
        binary, f"{major}.{minor}.{patch}", major * 10000 + minor * 100 + patch, Path(plugin_dir)
    )


def plugin_source() -> bytes:
    return importlib.resources.files(__package__).joinpath("aurora_sim.c").read_bytes()


@contextlib.contextmanager
def _cache_lock(cache: Path) -> Iterator[None]:
    """Serialise builds and downloads between processes sharing one cache directory."""
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(args: list[str], what: str, *, cwd: Path | None = None, timeout: float = 300) -> None:
    try:
        done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        raise ClusterError(f"{what} failed: {exc}") from exc
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-8:])
        raise ClusterError(f"{what} failed (exit {done.returncode}): {tail}")


def _installed_package_version(binary: Path) -> str | None:
    """The Debian version of the package owning ``binary`` (to fetch headers of the same release)."""
    try:
        owner = subprocess.run(
            ["dpkg-query", "-S", str(binary.resolve())], capture_output=True, text=True, timeout=30
        )
        package = owner.stdout.split(":", 1)[0].strip()
        if owner.returncode != 0 or not package:
            return None
        version = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return version.stdout.strip() or None


def _download_headers(info: ServerInfo, target: Path) -> None:
    """Fetch ``libmariadbd-dev`` with apt and unpack only ``usr/include/mariadb`` into ``target``."""
    for tool in ("apt-get", "dpkg-deb", "tar"):
        if shutil.which(tool) is None:
            raise ClusterError(
                f"the MariaDB plugin headers are not installed and {tool!r} is not available to fetch them "
                f"(install {HEADERS_PACKAGE!r})"
            )
    work = Path(tempfile.mkdtemp(prefix="headers-", dir=target.parent))
    try:
        exact = _installed_package_version(info.binary)
        attempts = [f"{HEADERS_PACKAGE}={exact}"] if exact else []
        attempts.append(HEADERS_PACKAGE)
        errors: list[str] = []
        for round_ in range(2):
            if round_ == 1:  # the package lists may be missing or stale on a fresh machine
                logger.info("running apt-get update to find %s", HEADERS_PACKAGE)
                try:
                    _run(["apt-get", "update"], "apt-get update")
                except ClusterError as exc:
                    errors.append(str(exc))
                    break
            for spec in attempts:
                try:
                    _run(["apt-get", "download", spec], f"apt-get download {spec}", cwd=work)
                except ClusterError as exc:
                    errors.append(str(exc))
                    continue
                break
            if any(work.glob("*.deb")):
                break
        debs = sorted(work.glob("*.deb"))
        if not debs:
            raise ClusterError(
                f"cannot obtain the MariaDB plugin headers: {'; '.join(errors)} "
                f"(install {HEADERS_PACKAGE!r} or put plugin.h under {str(SYSTEM_HEADERS)!r})"
            )
        unpacked = work / "unpacked"
        unpacked.mkdir()
        script = 'dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" --wildcards "./usr/include/mariadb/*"'
        _run(["sh", "-c", script, "sh", str(debs[0]), str(unpacked)], f"unpacking {debs[0].name}")
        headers = unpacked / "usr" / "include" / "mariadb" / "server"
        if not (headers / "mysql" / "plugin.h").is_file():
            raise ClusterError(f"{debs[0].name!r} holds no mysql/plugin.h")
        if target.exists():
            shutil.rmtree(target)
        os.replace(headers, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def header_dir(info: ServerInfo, cache: Path) -> Path:
    """The ``-I`` directory holding ``mysql/plugin.h``: the system one, or headers unpacked into the cache."""
    if (SYSTEM_HEADERS / "mysql" / "plugin.h").is_file():
        return SYSTEM_HEADERS
    target = cache / "mariadb-server-headers"
    if not (target / "mysql" / "plugin.h").is_file():
        logger.info("fetching MariaDB plugin headers (%s) into %s", HEADERS_PACKAGE, target)
        _download_headers(info, target)
    return target


def build_plugin(info: ServerInfo, cache: Path | None = None) -> Path:
    """Return the compiled plugin for ``info``'s server, compiling it on a cache miss (about 0.25 s)."""
    cache = cache or cache_dir()
    source = plugin_source()
    flags = [
        "-shared",
        "-fPIC",
        "-O2",
        "-DMYSQL_DYNAMIC_PLUGIN",
        f"-DAURORA_SIM_SERVER_VERSION_ID={info.version_id}",
    ]
    key = hashlib.sha256(source + "\0".join([info.version, *flags]).encode()).hexdigest()[:16]
    built = cache / f"aurora_sim-{key}.so"
    if built.is_file():
        return built
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        raise ClusterError("no C compiler ('gcc' or 'cc') to build the aurora_sim plugin")
    with _cache_lock(cache):
        if built.is_file():
            return built
        includes = header_dir(info, cache)
        with tempfile.TemporaryDirectory(prefix="aurora-sim-", dir=cache) as tmp:
            src = Path(tmp) / "aurora_sim.c"
            src.write_bytes(source)
            out = Path(tmp) / PLUGIN_FILE
            _run([compiler, *flags, f"-I{includes}", "-o", str(out), str(src)], "compiling aurora_sim.c")
            os.replace(out, built)
    logger.info("built %s", built)
    return built


def install_plugin(built: Path, plugin_dir: Path) -> Path:
    """Copy ``built`` into ``plugin_dir`` as ``aurora_sim.so`` unless the identical file is already there.

    The copy is renamed into place, so servers that have the previous file loaded keep their mapping.
    """
    target = plugin_dir / PLUGIN_FILE
    data = built.read_bytes()
    with contextlib.suppress(OSError):
        if target.read_bytes() == data:
            return target
    tmp_name = ""
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=".aurora_sim-", suffix=".tmp", dir=plugin_dir)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, target)
    except OSError as exc:
        if tmp_name:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
        raise ClusterError(
            f"cannot install the aurora_sim plugin into the server's plugin dir {str(plugin_dir)!r}: {exc} "
            "(run as root)"
        ) from exc
    logger.info("installed %s", target)
    return target


def ensure_plugin(info: ServerInfo, cache: Path | None = None) -> Path:
    """Build (or reuse) and install the plugin; returns its path in the plugin directory."""
    return install_plugin(build_plugin(info, cache), info.plugin_dir)
