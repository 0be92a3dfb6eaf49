"""DuckDB layout of the lineage store and its migrations.

Three layers, Marquez-style:

* ``raw_events``: every accepted event verbatim. The source of truth; only migrations ever rewrite it.
* ``f_*`` facts: what one event says (datasets it touches, schemas, symlinks, column edges), derived from that event
  alone, so they can be appended in any order.
* model tables (``runs``, ``jobs``, ``datasets``, ``dataset_versions``, ``*_io``, ``*_col``): aggregates over the facts,
  recomputed for the keys a batch touches. Because they are functions of the set of facts, events arriving out of
  order give the same model, and ``rebuild`` (drop, re-derive from raw) gives the same model as incremental ingest.

Raw-table changes are ordered migrations; any change to facts or model bumps ``DERIVED_VERSION``, which drops and
rebuilds them from ``raw_events`` on open.
"""

from __future__ import annotations

RAW_VERSION = 7
DERIVED_VERSION = 4  # 4: io_hash the XOR of its members' md5 (was the md5 of their sorted list); sha256 content hashes

#: Layout of ``raw_events`` as version 1 wrote it (kept to create old stores in tests and to migrate from).
RAW_V1 = """
CREATE TABLE raw_events (
    event_id     VARCHAR PRIMARY KEY,
    seq          BIGINT NOT NULL,
    ingested_at  TIMESTAMPTZ NOT NULL,
    event_time   TIMESTAMPTZ,
    event_type   VARCHAR,
    kind         VARCHAR NOT NULL,
    run_id       VARCHAR,
    job_namespace VARCHAR,
    job_name     VARCHAR,
    producer     VARCHAR,
    raw          VARCHAR NOT NULL
);
"""

#: Ordered migrations of the raw layer: version reached -> statements.
RAW_MIGRATIONS: dict[int, list[str]] = {
    2: [
        "ALTER TABLE raw_events ADD COLUMN schema_url VARCHAR",
        "ALTER TABLE raw_events ADD COLUMN size INTEGER",
        "UPDATE raw_events SET schema_url = json_extract_string(raw, '$.schemaURL'), size = octet_length(encode(raw))",
    ],
    # The local DataZone domains: which event each PostLineageEvent created, under which Client-Token.
    3: [
        """CREATE TABLE dz_events (
               domain_id VARCHAR NOT NULL, id VARCHAR NOT NULL, client_token VARCHAR, body_sha256 VARCHAR NOT NULL,
               event_id VARCHAR, event_time TIMESTAMPTZ, created_at TIMESTAMPTZ NOT NULL, created_by VARCHAR,
               processing_status VARCHAR NOT NULL, error VARCHAR, body VARCHAR NOT NULL, deleted BOOLEAN NOT NULL,
               PRIMARY KEY (domain_id, id))""",
    ],
    # The replay ledger: what was sent where, under which Client-Token, and what came back.
    4: [
        """CREATE TABLE replay_ledger (
               target VARCHAR NOT NULL, event_id VARCHAR NOT NULL, client_token VARCHAR NOT NULL,
               status VARCHAR NOT NULL, remote_id VARCHAR, processing_status VARCHAR, error VARCHAR,
               attempts INTEGER NOT NULL, mapped_sha256 VARCHAR NOT NULL, first_sent_at TIMESTAMPTZ,
               updated_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (target, event_id))""",
    ],
    # PostLineageEvent looks its Client-Token up on every call.
    5: ["CREATE INDEX dz_events_token ON dz_events (domain_id, client_token)"],
    # Raw events compressed with zstd: faster inserts and a fraction of the size of DuckDB's default for long text.
    6: [
        """CREATE TABLE raw_events_v6 (
               event_id VARCHAR PRIMARY KEY, seq BIGINT NOT NULL, ingested_at TIMESTAMPTZ NOT NULL,
               event_time TIMESTAMPTZ, event_type VARCHAR, kind VARCHAR NOT NULL, run_id VARCHAR,
               job_namespace VARCHAR, job_name VARCHAR, producer VARCHAR,
               raw VARCHAR NOT NULL USING COMPRESSION zstd, schema_url VARCHAR, size INTEGER)""",
        "INSERT INTO raw_events_v6 SELECT * FROM raw_events ORDER BY seq",
        "DROP TABLE raw_events",
        "ALTER TABLE raw_events_v6 RENAME TO raw_events",
    ],
    # Deviations from the spec events were accepted with (``events.leniency``), per event. Not derived: written with
    # an event's facts when they are first derived, and kept when the model is rebuilt.
    7: ["""CREATE TABLE event_warnings (
               event_id VARCHAR NOT NULL, n INTEGER NOT NULL, path VARCHAR NOT NULL, message VARCHAR NOT NULL)"""],
}

META = """
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);
"""

DERIVED_TABLES = [
    "f_events",
    "f_datasets",
    "f_symlinks",
    "f_lineage_uses",
    "lineage_facets",
    "lineage_edges",
    "schemas",
    "schema_fields",
    "runs",
    "run_io",
    "jobs",
    "job_versions",
    "datasets",
    "dataset_versions",
    "aliases",
    "current_io",
    "current_col",
]
DERIVED_VIEWS = ["all_io", "all_col", "f_column_edges"]  # dropped in this order

DERIVED = """
CREATE TABLE f_events (
    event_id VARCHAR NOT NULL, kind VARCHAR NOT NULL, run_key VARCHAR, job_id BIGINT,
    job_namespace VARCHAR, job_name VARCHAR, event_type VARCHAR, event_time TIMESTAMPTZ,
    parent_run_id VARCHAR, parent_job VARCHAR, error_message VARCHAR
);
CREATE TABLE f_datasets (
    event_id VARCHAR NOT NULL, run_key VARCHAR, job_id BIGINT, ds_id BIGINT NOT NULL, namespace VARCHAR NOT NULL,
    name VARCHAR NOT NULL, role VARCHAR NOT NULL, event_time TIMESTAMPTZ, event_type VARCHAR, schema_hash VARCHAR,
    written BOOLEAN NOT NULL, lifecycle VARCHAR, row_count BIGINT
);
CREATE TABLE f_symlinks (
    event_id VARCHAR NOT NULL, ds_id BIGINT NOT NULL, alias_id BIGINT NOT NULL,
    alias_namespace VARCHAR NOT NULL, alias_name VARCHAR NOT NULL, type VARCHAR
);
-- Column lineage, content-addressed: each distinct columnLineage facet's edges once (by the hash of its sorted
-- JSON, like schemas), and which output of which event carried which facet. START and COMPLETE, and every run of a
-- job, repeat the same facet: stored with every output that carried it, edges took 16 rows an event on synthetic
-- input and 6.5 on the seed-shaped bench; stored once, 8 and 0.004 (plus one use row per output).
CREATE TABLE lineage_facets (lineage_hash VARCHAR PRIMARY KEY);
CREATE TABLE lineage_edges (
    lineage_hash VARCHAR NOT NULL, out_field VARCHAR, in_ds BIGINT NOT NULL, in_field VARCHAR,
    type VARCHAR, subtype VARCHAR, description VARCHAR, masking BOOLEAN
);
CREATE TABLE f_lineage_uses (
    event_id VARCHAR NOT NULL, run_key VARCHAR, job_id BIGINT, event_time TIMESTAMPTZ,
    out_ds BIGINT NOT NULL, lineage_hash VARCHAR NOT NULL
);
-- Every column edge every event stated (one row per output field, input field and transformation).
CREATE VIEW f_column_edges AS
    SELECT u.event_id, u.run_key, u.job_id, u.event_time, u.out_ds, e.out_field, e.in_ds, e.in_field, e.type,
           e.subtype, e.description, e.masking
    FROM f_lineage_uses u JOIN lineage_edges e USING (lineage_hash);
CREATE TABLE schemas (schema_hash VARCHAR PRIMARY KEY, field_count INTEGER NOT NULL);
CREATE TABLE schema_fields (
    schema_hash VARCHAR NOT NULL, ordinal INTEGER NOT NULL, name VARCHAR NOT NULL, type VARCHAR, description VARCHAR
);
CREATE TABLE runs (
    run_key VARCHAR PRIMARY KEY, run_id VARCHAR, job_id BIGINT, state VARCHAR, started_at TIMESTAMPTZ,
    ended_at TIMESTAMPTZ, duration_ms BIGINT, first_event TIMESTAMPTZ, last_event TIMESTAMPTZ,
    parent_run_id VARCHAR, error_message VARCHAR, event_count INTEGER, io_hash VARCHAR, has_io BOOLEAN
);
CREATE TABLE run_io (run_key VARCHAR NOT NULL, job_id BIGINT, ds_id BIGINT NOT NULL, role VARCHAR NOT NULL);
CREATE TABLE jobs (
    job_id BIGINT PRIMARY KEY, namespace VARCHAR NOT NULL, name VARCHAR NOT NULL, first_seen TIMESTAMPTZ,
    last_seen TIMESTAMPTZ, current_run_key VARCHAR, current_io_hash VARCHAR, run_count INTEGER
);
CREATE TABLE job_versions (
    job_id BIGINT NOT NULL, io_hash VARCHAR NOT NULL, first_seen TIMESTAMPTZ, last_seen TIMESTAMPTZ, run_count INTEGER
);
CREATE TABLE datasets (
    ds_id BIGINT PRIMARY KEY, namespace VARCHAR NOT NULL, name VARCHAR NOT NULL,
    first_seen TIMESTAMPTZ, last_seen TIMESTAMPTZ
);
CREATE TABLE dataset_versions (
    ds_id BIGINT NOT NULL, version_id VARCHAR NOT NULL, created_at TIMESTAMPTZ, reason VARCHAR NOT NULL,
    run_key VARCHAR, schema_hash VARCHAR, row_count BIGINT
);
CREATE TABLE aliases (member_id BIGINT PRIMARY KEY, canonical_id BIGINT NOT NULL);
CREATE TABLE current_io (job_id BIGINT NOT NULL, ds_id BIGINT NOT NULL, role VARCHAR NOT NULL);
CREATE TABLE current_col (
    job_id BIGINT, out_ds BIGINT NOT NULL, out_field VARCHAR, in_ds BIGINT NOT NULL, in_field VARCHAR,
    type VARCHAR, subtype VARCHAR, description VARCHAR, masking BOOLEAN
);
-- The cumulative mode: every edge any run showed, read straight from the facts.
CREATE VIEW all_io AS
    SELECT DISTINCT io.job_id, coalesce(a.canonical_id, io.ds_id) AS ds_id, io.role
    FROM run_io io LEFT JOIN aliases a ON a.member_id = io.ds_id WHERE io.job_id IS NOT NULL;
CREATE VIEW all_col AS
    SELECT DISTINCT c.job_id, coalesce(ao.canonical_id, c.out_ds) AS out_ds, c.out_field,
           coalesce(ai.canonical_id, c.in_ds) AS in_ds, c.in_field, c.type, c.subtype, c.description, c.masking
    FROM f_column_edges c LEFT JOIN aliases ao ON ao.member_id = c.out_ds
    LEFT JOIN aliases ai ON ai.member_id = c.in_ds;
"""
