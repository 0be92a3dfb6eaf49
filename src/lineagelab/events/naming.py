"""Dataset names as AWS and openlineage-spark spell them, and DataZone's sourceIdentifier rules.

The naming helpers of openlineage-python (``openlineage.client.naming.dataset``) build the spec's names; the
functions here add what AWS does on top (Redshift Serverless hosts, Glue ARNs from symlinks, DataZone node ids).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from openlineage.client.naming import dataset as ol_naming


def s3(bucket_or_uri: str, key: str | None = None) -> tuple[str, str]:
    """``s3://bucket/a/b/`` -> (``s3://bucket``, ``a/b``); the bucket root is named ``/``."""
    if key is None:
        parts = urlsplit(bucket_or_uri.replace("s3a://", "s3://").replace("s3n://", "s3://"))
        bucket, key = parts.netloc, parts.path
    else:
        bucket = bucket_or_uri
    n = ol_naming.S3(bucket_name=bucket, object_key=key.strip("/") or "/")
    return n.get_namespace(), n.get_name()


def mysql(host: str, port: int, database: str, table: str) -> tuple[str, str]:
    n = ol_naming.MySQL(host=host.lower(), port=str(port), database=database, table=table)
    return n.get_namespace(), n.get_name()


def redshift_serverless(workgroup: str, account: str, region: str, database: str, schema: str, table: str,
                        port: int = 5439) -> tuple[str, str]:
    """As the Spark agent and Redshift's own lineage name a Serverless table (full endpoint host kept)."""
    host = f"{workgroup}.{account}.{region}.redshift-serverless.amazonaws.com"
    return f"redshift://{host}:{port}", f"{database}.{schema}.{table}".lower()


def glue_table(region: str, account: str, database: str, table: str) -> tuple[str, str]:
    n = ol_naming.AWSGlue(region_name=region, account_id=account, database_name=database.lower(),
                          table_name=table.lower())
    return n.get_namespace(), n.get_name()


_RS_SERVERLESS = re.compile(
    r"^redshift://(?P<wg>[^.]+)\.(?P<acct>\d{12})\.(?P<region>[a-z0-9-]+)\.redshift-serverless\.amazonaws\.com(:\d+)?$"
)
_RS_PROVISIONED = re.compile(
    r"^redshift://(?P<cluster>[^.]+)\.(?P<acct>\d{12})\.(?P<region>[a-z0-9-]+)\.redshift\.amazonaws\.com(:\d+)?$"
)


def has_glue_environment(run_facets: Mapping[str, Any]) -> bool:
    env = run_facets.get("environment-properties")
    props = env.get("environment-properties") if isinstance(env, Mapping) else None
    return isinstance(props, Mapping) and any(str(k).startswith("GLUE_") for k in props)


def dataset_source_identifier(
    namespace: str, name: str, facets: Mapping[str, Any] | None = None, *, glue_run: bool = False, view: bool = False
) -> str:
    """The sourceIdentifier DataZone gives a dataset node (its rules: docs/replay.md)."""
    if glue_run and facets:
        symlinks = facets.get("symlinks")
        for ident in (symlinks or {}).get("identifiers", []) if isinstance(symlinks, Mapping) else []:
            ns = str(ident.get("namespace", ""))
            if ns.startswith("arn:aws:glue:"):
                return f"{ns}:{ident.get('name')}"
    if namespace.startswith("arn:aws:glue:"):
        return f"{namespace}:{name}"
    kind = "view" if view else "table"
    m = _RS_SERVERLESS.match(namespace)
    if m:
        return (f"arn:aws:redshift-serverless:{m['region']}:{m['acct']}:{kind}/{m['wg']}/"
                + "/".join(name.split(".")))
    m = _RS_PROVISIONED.match(namespace)
    if m:
        return f"arn:aws:redshift:{m['region']}:{m['acct']}:{kind}/{m['cluster']}/" + "/".join(name.split("."))
    return f"{namespace}/{name}"


def job_source_identifier(namespace: str, name: str) -> str:
    return f"{namespace}.{name}"


def job_run_source_identifier(namespace: str, name: str, run_id: str) -> str:
    return f"{namespace}.{name}/{run_id}"
