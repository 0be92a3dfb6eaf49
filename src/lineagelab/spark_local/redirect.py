"""Scripts keep their AWS endpoints; their reads and writes go to the local stand-ins.

``s3://bucket/key`` becomes ``file:{lake}/bucket/key``; a JDBC URL whose host:port the profile lists becomes the
local service's URL (MariaDB's or PostgreSQL's driver, the local database name), and the session remembers the
script's URL so lineage names the AWS endpoint. Installed once per process on PySpark's ``DataFrameReader`` and
``DataFrameWriter``; only paths and the ``url``/``path`` options are touched.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lineagelab.profile import DEFAULT_PORTS, Profile, jdbc_parts, lake_path
from lineagelab.spark_local.datasets import strip_credentials

DRIVERS = {"mysql": "org.mariadb.jdbc.Driver", "mariadb": "org.mariadb.jdbc.Driver",
           "postgresql": "org.postgresql.Driver", "postgres": "org.postgresql.Driver"}


class EndpointError(ValueError):
    """A script names an AWS endpoint the profile has no local stand-in for."""


@dataclass
class Redirect:
    profile: Profile
    aliases: dict[str, str] = field(default_factory=dict)  # local URL (no credentials) -> the script's URL

    def path(self, value: Any) -> Any:
        if isinstance(value, str) and value.startswith(("s3://", "s3a://", "s3n://")):
            local = lake_path(Path(self.profile.lake).resolve(), value).as_uri()
            return local + "/" if value.endswith("/") else local
        if isinstance(value, list | tuple):
            return type(value)(self.path(v) for v in value)
        return value

    def jdbc(self, url: str) -> tuple[str, str | None]:
        """The URL to connect to and the driver class to name (Debian's jars need it named)."""
        scheme, host, port, database = jdbc_parts(url)
        port = port or DEFAULT_PORTS.get(scheme)
        endpoint = self.profile.endpoint(host, port) if port else None
        if endpoint is None:
            if scheme == "redshift" or host.endswith(".amazonaws.com"):
                where = self.profile.path or "lineagelab.toml"
                raise EndpointError(f"no local service answers for {scheme} endpoint {host}:{port}: add it to "
                                    f"[[endpoints]] in {where}")
            return url, DRIVERS.get(scheme)
        db = endpoint.databases.get(database, database)
        local_scheme = "postgresql" if endpoint.engine == "postgres" else "mysql"
        local = f"jdbc:{local_scheme}://{endpoint.local}/{db}"
        self.aliases[strip_credentials(local)] = strip_credentials(url)
        return local, DRIVERS[local_scheme]


_ACTIVE: list[Redirect] = []


def active() -> Redirect | None:
    return _ACTIVE[0] if _ACTIVE else None


def install(redirect: Redirect) -> None:
    """Make ``redirect`` the process's redirection (patching PySpark once)."""
    _ACTIVE[:] = [redirect]
    _patch_once()


def uninstall() -> None:
    _ACTIVE.clear()


@functools.cache
def _patch_once() -> None:
    from pyspark.sql.readwriter import DataFrameReader, DataFrameWriter

    def wrap_option(orig: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(orig)
        def option(self: Any, key: str, value: Any) -> Any:
            r = active()
            if r is not None and key.lower() == "path":
                value = r.path(value)
            elif r is not None and key.lower() == "url" and isinstance(value, str) and value.startswith("jdbc:"):
                value, driver = r.jdbc(value)
                if driver:
                    orig(self, "driver", driver)
            return orig(self, key, value)

        return option

    def wrap_options(orig: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(orig)
        def options(self: Any, **opts: Any) -> Any:
            for k, v in opts.items():
                self.option(k, v)
            return self

        return options

    def wrap_paths(orig: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(orig)
        def method(self: Any, *args: Any, **kwargs: Any) -> Any:
            r = active()
            if r is not None:
                args = tuple(r.path(a) for a in args)
                if "path" in kwargs:
                    kwargs["path"] = r.path(kwargs["path"])
                if isinstance(kwargs.get("url"), str):
                    kwargs["url"], driver = r.jdbc(kwargs["url"])
                    if driver:
                        props = dict(kwargs.get("properties") or {})
                        props.setdefault("driver", driver)
                        kwargs["properties"] = props
            return orig(self, *args, **kwargs)

        return method

    def wrap_jdbc(orig: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(orig)
        def jdbc(self: Any, url: str, table: str, *args: Any, **kwargs: Any) -> Any:
            r = active()
            if r is not None:
                url, driver = r.jdbc(url)
                if driver:
                    props = dict(kwargs.get("properties") or {})
                    props.setdefault("driver", driver)
                    kwargs["properties"] = props
            return orig(self, url, table, *args, **kwargs)

        return jdbc

    for cls in (DataFrameReader, DataFrameWriter):
        cls.option = wrap_option(cls.option)  # type: ignore[method-assign]
        cls.options = wrap_options(cls.options)  # type: ignore[method-assign]
        cls.jdbc = wrap_jdbc(cls.jdbc)  # type: ignore[method-assign]
        for name in ("load", "csv", "parquet", "json", "orc", "text", "save", "xml"):
            if hasattr(cls, name):
                setattr(cls, name, wrap_paths(getattr(cls, name)))
    DataFrameWriter.saveAsTable = _save_as_table(DataFrameWriter.saveAsTable)  # type: ignore[method-assign]


def _save_as_table(orig: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(orig)
    def save_as_table(self: Any, name: str, *args: Any, **options: Any) -> Any:
        r = active()
        if r is not None:
            if "path" in options:
                options["path"] = r.path(options["path"])
            db = name.rsplit(".", 1)[0] if "." in name else None
            spark = self._df.sparkSession
            if db and not spark.catalog.databaseExists(db):  # the Glue Data Catalog has it; the local one may not
                spark.sql(f"CREATE DATABASE IF NOT EXISTS {db}")
        return orig(self, name, *args, **options)

    return save_as_table
