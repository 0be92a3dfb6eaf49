"""Dataset identities as openlineage-spark names them, from what a local run actually touched.

A local run reads ``/…/.lineagelab/lake/bucket/key`` and ``jdbc:mariadb://127.0.0.1:3306/…``; the events must say
``s3://bucket`` + ``key`` and ``mysql://dbhost:3306`` + ``db.table``. These functions undo the redirection (the lake
root, the JDBC aliases the session recorded) and then apply the spec's naming rules. Pure functions over strings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit

from lineagelab.events import naming
from lineagelab.profile import DEFAULT_PORTS, jdbc_parts

_PARTITION = re.compile(r"^[^/=]+=[^/]*$")


def strip_credentials(url: str) -> str:
    """A JDBC URL without user/password (in the authority or the parameters) and without parameters at all."""
    rest = url.removeprefix("jdbc:")
    rest = re.sub(r"//[^/@]*@", "//", rest)
    rest = rest.split("?", 1)[0].split(";", 1)[0]
    return "jdbc:" + rest


def file_dataset(path: str, lake: Path) -> tuple[str, str]:
    """A file or folder the run read or wrote: ``s3://bucket`` + key inside the lake, else ``file`` + path."""
    p = path
    if p.startswith("file:"):
        p = unquote(urlsplit(p).path)
    if p.startswith(("s3://", "s3a://", "s3n://")):
        return naming.s3(p)
    p = p.rstrip("/")
    parts = p.split("/")
    while len(parts) > 1 and _PARTITION.match(parts[-1]):  # trailing partition folders are trimmed
        parts.pop()
    p = "/".join(parts)
    root = str(lake.resolve())
    if p == root or p.startswith(root + "/"):
        rel = p[len(root) + 1:]
        bucket, _, key = rel.partition("/")
        if bucket:
            return naming.s3(bucket, key)
    return "file", p or "/"


def jdbc_dataset(url: str, table: str, aliases: Mapping[str, str]) -> tuple[str, str]:
    """A JDBC table named from the URL the script wrote (``aliases``: local URL -> the script's URL)."""
    local = strip_credentials(url)
    original = aliases.get(local, local)
    scheme, host, port, database = jdbc_parts(original)
    if scheme == "mariadb":
        scheme = "mysql"
    if port is None:
        port = DEFAULT_PORTS.get(scheme)
    table = table.strip().strip('"`')
    if scheme == "mysql":
        name = table if "." in table or not database else f"{database}.{table}"
        return f"mysql://{host}:{port}", name
    if scheme in ("postgresql", "redshift"):
        parts = table.split(".")
        if len(parts) == 1:
            parts = ["public", *parts]
        if len(parts) == 2:
            parts = [database, *parts]
        ns = "redshift" if scheme == "redshift" else "postgres"
        name = ".".join(parts)
        return f"{ns}://{host}:{port}", name.lower() if ns == "redshift" else name
    return f"{scheme}://{host}:{port}", f"{database}.{table}" if database else table


def job_suffix(namespace: str, name: str, table: tuple[str, str] | None) -> str:
    """openlineage-spark's job-name suffix: ``db_table`` for tables, the last two path parts for files."""
    if table is not None:
        return f"{table[0]}_{table[1]}".lower()
    if namespace.startswith(("mysql://", "postgres://", "redshift://")):
        return "_".join(name.split(".")[1:]) or name  # the dbtable option: `employee`, `public_sales`
    parts = [p for p in name.split("/") if p]
    return "_".join(parts[-2:]) if parts else "root"


def snake(text: str) -> str:
    """``CreateDataSourceTableAsSelectCommand`` -> ``create_data_source_table_as_select_command``."""
    s = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", text)
    s = re.sub(r"[^A-Za-z0-9]+", "_", s)
    return s.strip("_").lower()
