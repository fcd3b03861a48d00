"""IAM mode of the local cluster: every instance verifies RDS IAM auth tokens as RDS does.

``LocalCluster(engine, iam=True)`` (or ``iam=IamConfig(...)``, or a dict of its fields) creates IAM database users
(``IamConfig.users``, default ``iam_user``) whose password is checked by a verifier that recomputes the SigV4
signature of the token (``_iam_verifier.py``, standard library only) against the credentials the emulated AWS
knows: static access keys of the configuration (default: the fake ``testing`` / ``testing`` of
``fake_aws_env()``) and, when ``moto_url`` is set, the temporary credentials moto's STS issued. It also checks
``DBUser``, the region, the host and port the token was signed for, and the expiry.

* **PostgreSQL**: a ``pam`` line per IAM user at the top of every instance's ``pg_hba.conf``
  (``pamservice=aws-wrapper-iam-<block>``), the verifier run by libpam-python (``pam_python.so``) with
  ``/usr/bin/python3``. Other users keep ``trust``.
* **MariaDB**: ``auth_pam`` (v2) with ``pam_use_cleartext_plugin=ON`` and the same PAM service; the servers get a
  self-signed TLS certificate made for the cluster (mysql-connector sends a cleartext password only over TLS,
  as it does to RDS). Not ``auth_pam_v1``: it runs PAM on the server's own threads, and two logins at once
  crash mariadbd (SIGSEGV) inside libpam-python's embedded interpreter. v2 runs PAM in a helper process per
  login (``<plugin_dir>/auth_pam_tool_dir/auth_pam_tool``, part of Debian's mariadb-server package); when the
  machine lacks that file, it is taken from the package of the installed version (``apt-get download``) and put
  in place, as the aurora flavour puts its plugin there.

The PAM service file ``/etc/pam.d/aws-wrapper-iam-<block>`` is written when the cluster starts and removed when
it stops. Needs root, ``/usr/bin/python3`` and libpam-python, which is installed with
``apt-get install -y libpam-python`` when missing (``IamConfig.install=False`` turns that off); when it cannot be
had, ``LocalCluster.up()`` raises ``ClusterError`` and the pytest fixtures skip with the reason.

Every login the verifier decided is in ``cluster.iam.log()`` (one dict per attempt: ``instance``, ``user``,
``ok``, ``reason``, ``host``, ``port``, ``key_id``, ``kind`` -- ``static`` or ``sts`` --, ``token_sha256``, a
16-hex-digit digest that tells tokens apart without revealing them).
"""

from __future__ import annotations

import contextlib
import functools
import glob
import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._engine import Node
from ._errors import ClusterError

__all__ = [
    "IamConfig",
    "IamSetup",
    "iam_missing",
    "find_pam_python",
    "DEFAULT_IAM_USER",
    "PAM_PACKAGE",
    "SYSTEM_PYTHON",
]

log = logging.getLogger("aws_wrapper.testing")

DEFAULT_IAM_USER = "iam_user"
PAM_PACKAGE = "libpam-python"
SYSTEM_PYTHON = "/usr/bin/python3"
PAM_DIR = Path("/etc/pam.d")
PAM_SERVICE_PREFIX = "aws-wrapper-iam-"
#: ``node.extra`` keys the engines read (absent: IAM mode is off for the node).
EXTRA_SERVICE = "iam.pam_service"
EXTRA_USERS = "iam.users"
EXTRA_CERT = "iam.ssl_cert"
EXTRA_KEY = "iam.ssl_key"

_PAM_PYTHON = (
    "/lib/security/pam_python.so",
    "/usr/lib/security/pam_python.so",
    "/lib/*/security/pam_python.so",
    "/usr/lib/*/security/pam_python.so",
    "/lib64/security/pam_python.so",
)
_USER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_REGION_IN_DOMAIN = re.compile(r"(?:^|\.)([a-z]{2}(?:-[a-z]+)+-\d{1,2})\.rds\.")


@dataclass(frozen=True)
class IamConfig:
    """What the cluster's IAM mode accepts.

    ``users``: database users that log in with IAM tokens (created on every instance). ``access_keys``: static
    access key id -> secret access key pairs whose signatures are valid. ``moto_url``: a moto server whose STS
    credentials (``/moto-api/data.json``) are valid too. ``region``: the region tokens must be signed for
    (default: the one in the cluster's domain, else ``us-east-1``). ``extra_hosts``: further host names tokens
    may be signed for (a custom DNS name in front of the cluster). ``max_skew``: seconds a token may be dated in
    the future. ``install``: install libpam-python with apt-get when it is missing.
    """

    users: tuple[str, ...] = (DEFAULT_IAM_USER,)
    access_keys: Mapping[str, str] = field(default_factory=lambda: {"testing": "testing"})
    moto_url: str | None = None
    region: str | None = None
    extra_hosts: tuple[str, ...] = ()
    max_skew: float = 300.0
    install: bool = True

    def __post_init__(self) -> None:
        raw: object = self.users
        users = (raw,) if isinstance(raw, str) else tuple(self.users)
        object.__setattr__(self, "users", users)
        object.__setattr__(self, "extra_hosts", tuple(self.extra_hosts))
        object.__setattr__(self, "access_keys", dict(self.access_keys))
        if not users:
            raise ClusterError("IamConfig.users must name at least one database user")
        for user in users:
            if not _USER.fullmatch(user):
                raise ClusterError(f"IAM user name {user!r} must match [A-Za-z_][A-Za-z0-9_]*")

    def __repr__(self) -> str:  # secrets of the fake keys stay out of reprs, like real ones
        keys = {key_id: "***" for key_id in self.access_keys}
        return (
            f"IamConfig(users={self.users!r}, access_keys={keys!r}, moto_url={self.moto_url!r}, "
            f"region={self.region!r}, extra_hosts={self.extra_hosts!r})"
        )

    @classmethod
    def coerce(cls, value: IamConfig | bool | Mapping[str, Any] | None) -> IamConfig | None:
        """``True`` -> the defaults; a mapping -> its fields (the CLI's JSON); False / None -> IAM mode off."""
        if value is None or value is False:
            return None
        if value is True:
            return cls()
        if isinstance(value, IamConfig):
            return value
        if isinstance(value, Mapping):
            data = dict(value)
            for name in ("users", "extra_hosts"):
                if name in data and not isinstance(data[name], str):
                    data[name] = tuple(data[name])
            try:
                return cls(**data)
            except TypeError as exc:
                raise ClusterError(f"invalid iam configuration {value!r}: {exc}") from None
        raise ClusterError(f"iam must be True, an IamConfig or a mapping of its fields, got {value!r}")

    def region_for(self, domain: str) -> str:
        if self.region:
            return self.region
        match = _REGION_IN_DOMAIN.search(domain.lower() + ".")
        return match.group(1) if match else "us-east-1"


# -- what the machine needs -------------------------------------------------------------------------------------


def find_pam_python() -> Path | None:
    """The libpam-python module, or None."""
    for pattern in _PAM_PYTHON:
        for candidate in sorted(glob.glob(pattern)):
            if os.path.isfile(candidate):
                return Path(candidate)
    return None


def _install_pam_python() -> str | None:
    """``apt-get install -y libpam-python`` (after ``apt-get update`` when the first attempt fails); None on
    success, else why not."""
    apt = shutil.which("apt-get")
    if apt is None:
        return f"{PAM_PACKAGE} is not installed and there is no apt-get to install it"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    log.warning("IAM mode: installing %s with apt-get", PAM_PACKAGE)
    last = ""
    for attempt in ("install", "update-then-install"):
        try:
            if attempt == "update-then-install":
                subprocess.run(
                    [apt, "update"], env=env, capture_output=True, text=True, timeout=600, check=False
                )
            done = subprocess.run(
                [apt, "install", "-y", "--no-install-recommends", PAM_PACKAGE],
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            return f"apt-get install {PAM_PACKAGE} failed: {exc}"
        if done.returncode == 0 and find_pam_python() is not None:
            return None
        last = "\n".join((done.stderr or done.stdout).strip().splitlines()[-3:])
    return f"apt-get install {PAM_PACKAGE} failed: {last}"


@functools.lru_cache(maxsize=8)
def iam_missing(engine: str, install: bool = True) -> str | None:
    """Why the IAM mode of an ``engine`` cluster cannot run here (None when it can). With ``install``,
    libpam-python is installed when missing (once per process)."""
    if os.geteuid() != 0:
        return f"IAM mode needs root: it writes a PAM service file to {PAM_DIR}"
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        return f"IAM mode runs its verifier with {SYSTEM_PYTHON}, which does not exist here"
    if not PAM_DIR.is_dir():
        return f"IAM mode needs PAM ({PAM_DIR} does not exist)"
    if find_pam_python() is None:
        if not install:
            return f"{PAM_PACKAGE} is not installed (apt-get install {PAM_PACKAGE})"
        reason = _install_pam_python()
        if reason is not None:
            return reason
    from ._registry import engine_name

    if engine_name(engine) == "mysql":
        reason = _mariadb_missing(install)
        if reason is not None:
            return reason
    return None


def _mariadb_missing(install: bool) -> str | None:
    from . import _mysql_build as build

    binary = build.find_program("mariadbd")
    if binary is None:
        return "server binary 'mariadbd' not found (apt-get install mariadb-server)"
    try:
        plugin_dir = build.server_info(binary).plugin_dir
    except ClusterError as exc:
        return str(exc)
    if not (plugin_dir / "auth_pam.so").exists():
        return f"MariaDB's PAM plugin 'auth_pam.so' is not in {str(plugin_dir)!r}"
    tool = plugin_dir / PAM_TOOL
    if not os.access(tool, os.X_OK):
        if not install:
            return f"MariaDB's PAM helper {str(tool)!r} is missing (it comes with the mariadb-server package)"
        try:
            _install_pam_tool(tool)
        except ClusterError as exc:
            return f"MariaDB's PAM helper {str(tool)!r} is missing and could not be fetched: {exc}"
    problem = _let_the_server_run(tool)
    if problem is not None:
        return problem
    if shutil.which("openssl") is None:
        return "IAM mode of MariaDB needs the openssl command to make the servers' TLS certificate"
    return None


def _let_the_server_run(tool: Path) -> str | None:
    """The server runs its PAM helper as its own OS user (``mysql``), so the helper's directory must be reachable
    by it. Debian's package makes it ``mysql:root`` 0700 in its post-install script; a package reinstall or an
    unpack by hand leaves ``root:root`` 0700, which fails every PAM login with "using password: NO". Restore the
    package's ownership (root only); None when the helper is usable."""
    from ._mysql_proc import mysql_ids

    directory = tool.parent
    try:
        uid, _ = mysql_ids()
        info = directory.stat()
        if info.st_uid == uid or info.st_mode & 0o001:
            return None
        if os.geteuid() != 0:
            return f"MariaDB's PAM helper directory {str(directory)!r} is not reachable by the server's OS user"
        os.chown(directory, uid, 0)
        log.warning("IAM mode: %s given to the server's OS user, as the mariadb-server package does", directory)
    except (OSError, KeyError, ClusterError) as exc:
        return f"MariaDB's PAM helper directory {str(directory)!r} cannot be made usable: {exc}"
    return None


#: Where MariaDB's PAM plugin (v2) finds its helper, below the server's plugin directory.
PAM_TOOL = "auth_pam_tool_dir/auth_pam_tool"


def _install_pam_tool(target: Path) -> None:
    """Take ``auth_pam_tool`` from the installed mariadb-server's package (``apt-get download``) and put it where
    the plugin looks for it. Not setuid: the cluster's PAM stack needs no privilege."""
    from . import _mysql_build as build

    for tool in ("apt-get", "dpkg-deb", "dpkg-query", "tar"):
        if shutil.which(tool) is None:
            raise ClusterError(f"{tool!r} is not available")
    try:
        version = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", "mariadb-server"], capture_output=True, text=True, timeout=30
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        raise ClusterError(f"dpkg-query failed: {exc}") from exc
    spec = f"mariadb-server={version}" if version else "mariadb-server"
    log.warning("IAM mode: fetching %s from %s", PAM_TOOL, spec)
    with tempfile.TemporaryDirectory(prefix="aws-wrapper-pam-tool-") as tmp:
        work = Path(tmp)
        os.chmod(work, 0o755)  # apt-get download runs as _apt where it can
        build._run(["apt-get", "download", spec], f"apt-get download {spec}", cwd=work)
        debs = sorted(work.glob("*.deb"))
        if not debs:
            raise ClusterError(f"apt-get download {spec} produced no package")
        member = "./usr/lib/mysql/plugin/" + PAM_TOOL
        script = 'dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" "$3"'
        build._run(["sh", "-c", script, "sh", str(debs[0]), tmp, member], f"unpacking {debs[0].name}")
        unpacked = work / member
        if not unpacked.is_file():
            raise ClusterError(f"{debs[0].name} holds no {member}")
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.with_name(target.name + ".tmp")
        shutil.copyfile(unpacked, staging)
        os.chmod(staging, 0o755)
        os.replace(staging, target)
    log.warning("IAM mode: installed %s", target)


# -- the cluster's IAM state ------------------------------------------------------------------------------------


class IamSetup:
    """The files of one cluster's IAM mode (``<work_dir>/iam``) and its PAM service; made by ``LocalCluster``."""

    def __init__(
        self, config: IamConfig, work_dir: Path, block_prefix: str, port: int, engine: str, domain: str
    ):
        self.config = config
        self.engine = engine
        self.port = port
        self.region = config.region_for(domain)
        self.service = PAM_SERVICE_PREFIX + block_prefix.replace(".", "-")
        self.directory = work_dir / "iam"
        self.verifier = self.directory / "verifier.py"
        self.config_file = self.directory / "config.json"
        self.log_file = self.directory / "verifier.log"
        self.cert_file = self.directory / "server-cert.pem"
        self.key_file = self.directory / "server-key.pem"
        self.pam_file = PAM_DIR / self.service
        self._cluster_hosts: list[str] = []
        self._instances: list[dict[str, Any]] = []
        self._pam_written = False

    def __repr__(self) -> str:
        return f"IamSetup(service={self.service!r}, users={self.config.users!r}, region={self.region!r})"

    @property
    def users(self) -> tuple[str, ...]:
        return self.config.users

    @property
    def user(self) -> str:
        """The first IAM user (what ``conninfo`` users usually need)."""
        return self.config.users[0]

    def node_extra(self) -> dict[str, str]:
        """What an engine needs to know about IAM mode for a node (see the ``EXTRA_*`` keys)."""
        extra = {EXTRA_SERVICE: self.service, EXTRA_USERS: ",".join(self.config.users)}
        if self.engine == "mysql":
            extra.update({EXTRA_CERT: str(self.cert_file), EXTRA_KEY: str(self.key_file)})
        return extra

    def prepare(self, cluster_hosts: Iterable[str], nodes: Iterable[Node]) -> None:
        """Write the verifier, its configuration and log, the TLS certificate (MariaDB) and the PAM service."""
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o755)
        from . import _iam_verifier

        shutil.copyfile(_iam_verifier.__file__, self.verifier)
        os.chmod(self.verifier, 0o644)
        self.log_file.touch()
        os.chmod(self.log_file, 0o666)  # appended to by the servers' OS users (postgres, mysql)
        self._cluster_hosts = [h for h in (*cluster_hosts, *self.config.extra_hosts) if h]
        self.set_instances(nodes)
        if self.engine == "mysql":
            self._make_certificate()
        pam_python = find_pam_python()
        if pam_python is None:
            raise ClusterError(f"{PAM_PACKAGE} is not installed (apt-get install {PAM_PACKAGE})")
        self.pam_file.write_text(
            "# written by aws-wrapper-testing for a local cluster in IAM mode; removed when the cluster stops\n"
            f"auth required {pam_python} {self.verifier} {self.config_file}\n"
            "account required pam_permit.so\n"
        )
        self._pam_written = True

    def set_instances(self, nodes: Iterable[Node]) -> None:
        """Rewrite the verifier's configuration for the cluster's current instances (atomically)."""
        self._instances = [
            {
                "id": node.instance_id,
                "data_dir": str(node.data_dir),
                "hosts": sorted(
                    {
                        h
                        for h in (
                            node.extra.get("proxy_host", ""),
                            node.extra.get("dns_name", ""),
                            node.extra.get("endpoint", ""),
                            node.advertised_host,
                            node.server_host,
                        )
                        if h
                    }
                ),
            }
            for node in nodes
        ]
        document = {
            "region": self.region,
            "port": self.port,
            "users": list(self.config.users),
            "keys": dict(self.config.access_keys),
            "moto_url": self.config.moto_url,
            "max_skew": self.config.max_skew,
            "cluster_hosts": self._cluster_hosts,
            "instances": self._instances,
            "log": str(self.log_file),
        }
        self.directory.mkdir(parents=True, exist_ok=True)
        staging = self.config_file.with_name(self.config_file.name + ".tmp")
        staging.write_text(json.dumps(document, indent=1))
        os.chmod(staging, 0o644)
        os.replace(staging, self.config_file)

    def _make_certificate(self) -> None:
        if self.cert_file.exists() and self.key_file.exists():
            return
        args = [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", "30", "-subj", "/CN=aws-wrapper-local-cluster",
            "-keyout", str(self.key_file), "-out", str(self.cert_file),
        ]  # fmt: skip
        try:
            done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
        except (OSError, subprocess.SubprocessError) as exc:
            raise ClusterError(f"cannot make the cluster's TLS certificate: {exc}") from exc
        if done.returncode != 0:
            raise ClusterError(f"cannot make the cluster's TLS certificate: {done.stderr.strip()[-400:]}")
        os.chmod(self.cert_file, 0o644)
        os.chmod(self.key_file, 0o644)  # read by mariadbd (the mysql OS user); a throwaway test key

    def remove(self) -> None:
        """Remove the PAM service file (the cluster's teardown; idempotent)."""
        if self._pam_written or self.pam_file.exists():
            with contextlib.suppress(FileNotFoundError):
                self.pam_file.unlink()
        self._pam_written = False

    # -- what the verifier decided ----------------------------------------------------------------------------
    def log(self) -> list[dict[str, Any]]:
        """Every login the verifier decided, oldest first."""
        try:
            text = self.log_file.read_text()
        except FileNotFoundError:
            return []
        entries = []
        for line in text.splitlines():
            with contextlib.suppress(ValueError):
                entries.append(json.loads(line))
        return entries

    def accepted(self, user: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.log() if e.get("ok") and (user is None or e.get("user") == user)]

    def rejected(self, user: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.log() if not e.get("ok") and (user is None or e.get("user") == user)]

    def clear_log(self) -> None:
        with contextlib.suppress(FileNotFoundError), open(self.log_file, "w"):
            pass
