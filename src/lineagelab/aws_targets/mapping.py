"""Local identities -> their AWS twins, applied consistently to a whole event.

The rules are the ``[[map.*]]`` section of the project profile (``lineagelab.toml``, ``$LINEAGELAB_PROFILE`` or
``--map FILE``), read by ``lineagelab.profile`` like the rest of the file::

    [aws]
    account = "123456789012"
    region = "us-west-2"

    [[map.namespace]]                       # dataset namespaces, by prefix
    local = "mysql://127.0.0.1:3306"
    aws = "mysql://lineage-rds.c1a2b3c4d5e6.us-west-2.rds.amazonaws.com:3306"

    [[map.namespace]]
    local = "s3://local-lake"
    aws = "s3://datazone-123456789012"

    [[map.name]]                            # dataset names, by prefix, within a (mapped) namespace
    namespace = "redshift://default-workgroup.123456789012.us-west-2.redshift-serverless.amazonaws.com:5439"
    local = "lineagelab_demo."
    aws = "dev."

    [[map.job_namespace]]
    local = "local"
    aws = "default"

Every place an identity appears is rewritten: inputs and outputs, ``symlinks`` identifiers, ``columnLineage``
input fields and dataset dependencies, ``dataSource`` facets, the ``parent`` facet's job, the job itself. Glue ARNs
(``arn:aws:glue:REGION:ACCOUNT``) take the profile's account and region. Events captured under AWS names (the
project's endpoint aliases) need no profile.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from lineagelab.profile import MapRule, MapSection, Profile, ProfileError

__all__ = ["Mapping_", "ProfileError", "Rule", "for_profile", "from_section"]

_GLUE = re.compile(r"^arn:aws:glue:([a-z0-9-]+):(\d{12})$")

Rule = MapRule  # the profile's rule type, under the name this module always gave it


@dataclass
class Mapping_:
    account: str | None = None
    region: str | None = None
    namespaces: list[Rule] = field(default_factory=list)
    names: list[Rule] = field(default_factory=list)
    job_namespaces: list[Rule] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.account or self.region or self.namespaces or self.names or self.job_namespaces)

    # -- identities ------------------------------------------------------------------------------------------
    def namespace(self, ns: str) -> str:
        m = _GLUE.match(ns)
        if m and (self.account or self.region):
            return f"arn:aws:glue:{self.region or m[1]}:{self.account or m[2]}"
        for r in self.namespaces:
            if ns == r.local or ns.startswith(r.local.rstrip("/") + "/") or ns.startswith(r.local + ":"):
                return r.aws + ns[len(r.local):]
        return ns

    def dataset(self, ns: str, name: str) -> tuple[str, str]:
        mapped_ns = self.namespace(ns)
        for r in self.names:
            if r.namespace in (None, ns, mapped_ns) and name.startswith(r.local):
                name = r.aws + name[len(r.local):]
                break
        return mapped_ns, name

    def job_namespace(self, ns: str) -> str:
        for r in self.job_namespaces:
            if ns == r.local:
                return r.aws
        return self.namespace(ns)

    # -- events ----------------------------------------------------------------------------------------------
    def event(self, doc: Mapping[str, Any]) -> dict[str, Any]:
        """A mapped deep copy of an event."""
        out: dict[str, Any] = orjson.loads(orjson.dumps(doc))  # a deep copy, 30x faster than copy.deepcopy
        if self.empty:
            return out
        job = out.get("job")
        if isinstance(job, dict) and "namespace" in job:
            job["namespace"] = self.job_namespace(job["namespace"])
        parent = ((out.get("run") or {}).get("facets") or {}).get("parent")
        if isinstance(parent, dict) and isinstance(parent.get("job"), dict):
            parent["job"]["namespace"] = self.job_namespace(parent["job"].get("namespace", ""))
        for side in ("inputs", "outputs"):
            for ds in out.get(side) or []:
                self._dataset(ds)
        if isinstance(out.get("dataset"), dict):
            self._dataset(out["dataset"])
        return out

    def _ident(self, obj: dict[str, Any]) -> None:
        if isinstance(obj.get("namespace"), str) and isinstance(obj.get("name"), str):
            obj["namespace"], obj["name"] = self.dataset(obj["namespace"], obj["name"])

    def _dataset(self, ds: dict[str, Any]) -> None:
        self._ident(ds)
        facets = ds.get("facets") or {}
        for ident in (facets.get("symlinks") or {}).get("identifiers") or []:
            self._ident(ident)
        source = facets.get("dataSource")
        if isinstance(source, dict):
            for key in ("name", "uri"):
                if isinstance(source.get(key), str):
                    source[key] = self.namespace(source[key])
        lineage = facets.get("columnLineage") or {}
        for spec in (lineage.get("fields") or {}).values():
            for src in spec.get("inputFields") or []:
                self._ident(src)
        for src in lineage.get("dataset") or []:
            self._ident(src)


def for_profile(prof: Profile) -> Mapping_:
    """The mapping of a loaded profile's ``[map]`` section."""
    return from_section(prof.map)


def from_section(section: MapSection) -> Mapping_:
    return Mapping_(account=section.account, region=section.region, namespaces=list(section.namespaces),
                    names=list(section.names), job_namespaces=list(section.job_namespaces))
