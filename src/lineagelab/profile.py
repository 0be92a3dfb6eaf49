"""The project profile (``lineagelab.toml``): which AWS this laptop pretends to be, and what stands in for it.

Scripts keep their AWS endpoints; the profile says which local service answers for each one. Connections are
redirected there while lineage keeps the AWS names, so captured events look as AWS emits them::

    [aws]
    account = "123456789012"
    region = "us-west-2"
    domain = "dzd_xxxxxxxx"

    [[endpoints]]                      # an AWS endpoint as scripts spell it -> the local service
    aws = "dbhost:3306"
    local = "127.0.0.1:3306"
    engine = "mysql"                   # mysql (MariaDB/MySQL) or postgres (stands in for Redshift)
    databases = { database_name = "employeedb" }   # optional: database in the script -> local database

    [connections.connectionname]       # Glue connections (extract_jdbc_conf); passwords stay in this file
    url = "jdbc:mysql://dbhost:3306/employeedb"
    user = "lineagelab"
    password = "..."

    [lake]
    root = ".lineagelab/lake"          # s3://bucket/key lives in {root}/bucket/key

    [glue]
    version = "6.1"                    # the Glue version jobs run as (default 5.0); 6.1+ captures lineage by default

    [emr]
    release = "emr-spark-8.2.0"        # the EMR release (default emr-7.8.0); spark 8.2+ captures lineage by default

    [[map.namespace]]                  # replay's local -> AWS rewrite rules (``aws_targets.mapping`` applies them)
    local = "mysql://127.0.0.1:3306"
    aws = "mysql://lineage-rds.c1a2b3c4d5e6.us-west-2.rds.amazonaws.com:3306"

This module is the file's only reader: every command takes its profile from ``load``, which honours
``$LINEAGELAB_PROFILE`` the same way for all of them.
"""

from __future__ import annotations

import os
import re
import tomllib
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DEFAULT_FILE = "lineagelab.toml"
#: Where ``load`` looks for ``./lineagelab.toml``: the working directory, or, in a server running a client's command,
#: the client's (``cli/remote.py``), as the server's own is not where the client stands.
workdir: ContextVar[Path | None] = ContextVar("workdir", default=None)
_ACCOUNT = re.compile(r"^\d{12}$")
_GLUE_VERSION = re.compile(r"^\d+\.\d+$")
_EMR_RELEASE = re.compile(r"^emr-(spark-)?\d+\.\d+\.\d+$")


class ProfileError(ValueError):
    """A profile that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class Endpoint:
    aws: str  # host:port as scripts spell it
    local: str  # host:port of the service that answers
    engine: str  # mysql | postgres
    databases: dict[str, str] = field(default_factory=dict)

    @property
    def aws_host(self) -> str:
        return self.aws.rsplit(":", 1)[0].lower()

    @property
    def aws_port(self) -> int:
        return int(self.aws.rsplit(":", 1)[1])


@dataclass(frozen=True)
class Connection:
    name: str
    url: str
    user: str | None = None
    password: str | None = None

    def __repr__(self) -> str:  # never print the password
        return f"Connection(name={self.name!r}, url={self.url!r}, user={self.user!r})"


@dataclass(frozen=True)
class MapRule:
    """Rewrite identities starting with ``local`` to start with ``aws`` (names: within ``namespace``, if given)."""

    local: str
    aws: str
    namespace: str | None = None


@dataclass(frozen=True)
class MapSection:
    """The ``[[map.*]]`` rules, with the account and region the file's ``[aws]`` sets (None where it sets none:
    then Glue ARNs keep theirs)."""

    account: str | None = None
    region: str | None = None
    namespaces: tuple[MapRule, ...] = ()
    names: tuple[MapRule, ...] = ()
    job_namespaces: tuple[MapRule, ...] = ()


@dataclass
class Profile:
    account: str = "123456789012"
    region: str = "us-west-2"
    domain: str | None = None
    endpoints: list[Endpoint] = field(default_factory=list)
    connections: dict[str, Connection] = field(default_factory=dict)
    lake: Path = Path(".lineagelab/lake")
    path: Path | None = None
    map: MapSection = field(default_factory=MapSection)
    glue_version: str = "5.0"
    emr_release: str = "emr-7.8.0"

    def endpoint(self, host: str, port: int) -> Endpoint | None:
        for e in self.endpoints:
            if e.aws_host == host.lower() and e.aws_port == port:
                return e
        return None

    def bucket(self) -> str:
        return f"datazone-{self.account}"


def _where(path: Path | None, key: str) -> str:
    return f"{path or DEFAULT_FILE}: {key}"


def _hostport(value: Any, path: Path | None, key: str) -> str:
    if not isinstance(value, str) or not re.match(r"^[A-Za-z0-9_.-]+:\d+$", value):
        raise ProfileError(f"{_where(path, key)} must be host:port, got {value!r}")
    return value


def parse(doc: dict[str, Any], path: Path | None = None, base: Path | None = None) -> Profile:
    """Build a profile from a parsed TOML document, naming the key of any bad value."""
    prof = Profile(path=path)
    aws = doc.get("aws", {})
    if not isinstance(aws, dict):
        raise ProfileError(f"{_where(path, 'aws')} must be a table")
    if "account" in aws:
        if not _ACCOUNT.match(str(aws["account"])):
            raise ProfileError(f"{_where(path, 'aws.account')} must be 12 digits, got {aws['account']!r}")
        prof.account = str(aws["account"])
    if "region" in aws:
        if not re.match(r"^[a-z]{2}(-[a-z]+)+-\d$", str(aws["region"])):
            raise ProfileError(f"{_where(path, 'aws.region')} is not an AWS region: {aws['region']!r}")
        prof.region = str(aws["region"])
    if "domain" in aws:
        prof.domain = str(aws["domain"])
    for i, e in enumerate(doc.get("endpoints", [])):
        key = f"endpoints[{i}]"
        if not isinstance(e, dict):
            raise ProfileError(f"{_where(path, key)} must be a table")
        engine = str(e.get("engine", "mysql"))
        if engine not in ("mysql", "postgres"):
            raise ProfileError(f"{_where(path, key + '.engine')} must be mysql or postgres, got {engine!r}")
        dbs = e.get("databases", {})
        if not isinstance(dbs, dict):
            raise ProfileError(f"{_where(path, key + '.databases')} must be a table")
        prof.endpoints.append(Endpoint(_hostport(e.get("aws"), path, key + ".aws"),
                                       _hostport(e.get("local"), path, key + ".local"), engine,
                                       {str(k): str(v) for k, v in dbs.items()}))
    for name, c in doc.get("connections", {}).items():
        key = f"connections.{name}"
        if not isinstance(c, dict) or not str(c.get("url", "")).startswith("jdbc:"):
            raise ProfileError(f"{_where(path, key + '.url')} must be a jdbc: URL")
        prof.connections[name] = Connection(name, str(c["url"]), c.get("user"), c.get("password"))
    lake = doc.get("lake", {}).get("root")
    if lake is not None:
        p = Path(str(lake))
        prof.lake = p if p.is_absolute() else (base or Path.cwd()) / p
    elif base is not None:
        prof.lake = base / prof.lake
    prof.map = _map_section(doc, path)
    _runtimes(prof, doc, path)
    return prof


def _runtimes(prof: Profile, doc: dict[str, Any], path: Path | None) -> None:
    """``[glue] version`` (or a top-level ``glue_version``) and ``[emr] release``: the service versions jobs run as."""
    glue, emr = doc.get("glue", {}), doc.get("emr", {})
    for key, table in (("glue", glue), ("emr", emr)):
        if not isinstance(table, dict):
            raise ProfileError(f"{_where(path, key)} must be a table")
    version = glue.get("version", doc.get("glue_version"))
    if version is not None:
        key = "glue.version" if "version" in glue else "glue_version"
        if not _GLUE_VERSION.match(str(version)):
            raise ProfileError(f"{_where(path, key)} must be a Glue version such as \"6.1\", got {version!r}")
        prof.glue_version = str(version)
    release = emr.get("release")
    if release is not None:
        if not _EMR_RELEASE.match(str(release)):
            raise ProfileError(f"{_where(path, 'emr.release')} must be an EMR release such as \"emr-spark-8.2.0\" "
                               f"or \"emr-7.8.0\", got {release!r}")
        prof.emr_release = str(release)


def _map_section(doc: dict[str, Any], path: Path | None) -> MapSection:
    maps = doc.get("map", {})
    if not isinstance(maps, dict):
        raise ProfileError(f"{_where(path, 'map')} must be a table")
    aws = doc.get("aws", {})
    return MapSection(
        account=str(aws["account"]) if aws.get("account") else None,
        region=str(aws["region"]) if aws.get("region") else None,
        namespaces=_rules(maps.get("namespace"), path, "map.namespace"),
        names=_rules(maps.get("name"), path, "map.name", with_namespace=True),
        job_namespaces=_rules(maps.get("job_namespace"), path, "map.job_namespace"),
    )


def _rules(items: Any, path: Path | None, key: str, with_namespace: bool = False) -> tuple[MapRule, ...]:
    if items is None:
        return ()
    if not isinstance(items, list):
        raise ProfileError(f"{_where(path, key)} must be a list of tables ([[{key}]])")
    rules = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("local"), str) or not isinstance(item.get("aws"), str):
            raise ProfileError(f"{_where(path, f'{key}[{i}]')} needs string keys 'local' and 'aws'")
        namespace = item.get("namespace") if with_namespace else None
        if namespace is not None and not isinstance(namespace, str):
            raise ProfileError(f"{_where(path, f'{key}[{i}].namespace')} must be a string")
        rules.append(MapRule(item["local"], item["aws"], namespace))
    return tuple(rules)


def load(path: Path | str | None = None, *, what: str = "profile") -> Profile:
    """``path``, else ``$LINEAGELAB_PROFILE``, else ``./lineagelab.toml`` if present, else defaults.

    ``what`` names the file in errors as the command's option calls it (``replay --map`` reads a "mapping profile").
    """
    env = os.environ.get("LINEAGELAB_PROFILE")
    chosen = Path(path) if path else (Path(env) if env else None)
    if chosen is None:
        here = workdir.get()
        chosen = here / DEFAULT_FILE if here is not None else Path(DEFAULT_FILE)
        if not chosen.exists():
            return Profile()
    try:
        text = chosen.read_text("utf-8")
    except OSError as exc:
        raise ProfileError(f"cannot read {what} {chosen}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ProfileError(f"{chosen}: not UTF-8 text (byte {exc.start})") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{chosen}: not valid TOML: {exc}") from None
    return parse(doc, chosen, chosen.resolve().parent)


def lake_path(lake: Path, uri: str) -> Path:
    """Where ``s3://bucket/key`` lives in the local lake: ``{lake}/bucket/key`` (the bucket root is the folder)."""
    from lineagelab.events import naming

    ns, key = naming.s3(uri)
    return Path(lake) / ns.removeprefix("s3://") / ("" if key == "/" else key)


def jdbc_parts(url: str) -> tuple[str, str, int | None, str]:
    """``jdbc:mysql://h:3306/db?x=1`` -> (scheme, host, port, database); credentials and parameters dropped."""
    rest = url.removeprefix("jdbc:")
    parts = urlsplit(rest)
    host = (parts.hostname or "").lower()
    return parts.scheme.lower(), host, parts.port, parts.path.strip("/").split("/")[0] if parts.path else ""


DEFAULT_PORTS = {"mysql": 3306, "mariadb": 3306, "postgresql": 5432, "redshift": 5439}


def init_text(account: str, region: str, domain: str, mysql_db: str = "employeedb",
              pg_db: str = "lineagelab_demo") -> str:
    """The profile ``lineagelab init`` writes: the seed's AWS endpoints, answered by the local services."""
    rds = f"lineage-rds.c1a2b3c4d5e6.{region}.rds.amazonaws.com"
    workgroup = f"default-workgroup.{account}.{region}.redshift-serverless.amazonaws.com"
    return f'''# lineagelab project profile: the AWS these scripts run against, and what answers locally.
[aws]
account = "{account}"
region = "{region}"
domain = "{domain}"

# The seed's placeholder RDS endpoint and a realistic one, both answered by the local MariaDB/MySQL.
[[endpoints]]
aws = "dbhost:3306"
local = "127.0.0.1:3306"
engine = "mysql"
databases = {{ employeedb = "{mysql_db}", database_name = "{mysql_db}" }}

[[endpoints]]
aws = "{rds}:3306"
local = "127.0.0.1:3306"
engine = "mysql"
databases = {{ employeedb = "{mysql_db}" }}

# Redshift Serverless workgroup endpoint, answered by the local PostgreSQL.
[[endpoints]]
aws = "{workgroup}:5439"
local = "127.0.0.1:5432"
engine = "postgres"
databases = {{ dev = "{pg_db}" }}

# Glue connections for glueContext.extract_jdbc_conf(); the password never leaves this file.
[connections.connectionname]
url = "jdbc:mysql://dbhost:3306/employeedb"
user = "lineagelab"
password = "lineagelab-local"

[lake]
root = ".lineagelab/lake"
'''
