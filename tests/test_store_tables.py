"""Only ``store/`` names the store's tables in SQL: everything else reads and writes through the functions and
views it defines (``store/queries*.py``), so that the schema has one owner."""

from __future__ import annotations

import re
from pathlib import Path

from lineagelab.store import schema

SRC = Path(__file__).resolve().parents[1] / "src" / "lineagelab"

#: Every table and view the store creates.
TABLES = sorted({*schema.DERIVED_TABLES, *schema.DERIVED_VIEWS, "raw_events", "meta", "dz_events",
                 "replay_ledger", "lineage_facets"})

_SQL_WORDS = r"(?:FROM|JOIN|INTO|UPDATE|TABLE|VIEW|EXISTS)"
_NAMED = re.compile(rf"\b{_SQL_WORDS}\s+({'|'.join(map(re.escape, TABLES))})\b", re.IGNORECASE)
_STRINGS = re.compile(r'("""|\'\'\'|"|\')(.*?)\1', re.DOTALL)


def _named_tables(text: str) -> set[str]:
    """Store tables named after a SQL keyword inside the string literals of a Python module."""
    return {m.group(1) for s in _STRINGS.finditer(text) for m in _NAMED.finditer(s.group(2))}


def test_the_pattern_finds_table_names_in_sql_strings() -> None:
    assert _named_tables('con.execute("SELECT a FROM runs r JOIN jobs USING (job_id)")') == {"runs", "jobs"}
    assert _named_tables('sql = f"""\n  INSERT INTO dz_events VALUES (?)"""') == {"dz_events"}
    assert _named_tables("# reads from runs in a comment, not SQL\nx = 'runs'") == set()


def test_only_the_store_names_its_tables_in_sql() -> None:
    found: dict[str, set[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel.startswith("store/"):
            continue
        named = _named_tables(path.read_text(encoding="utf-8"))
        if named:
            found[rel] = named
    assert found == {}, f"store tables named in SQL outside store/ (ask through store/queries*.py): {found}"
