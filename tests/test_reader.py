"""Every input format the CLI promises, and a clear, located error for every kind of bad input."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Any

import orjson

from lineagelab.ingest import reader
from lineagelab.ingest.reader import read_events


def _ok(raws: list[reader.RawEvent]) -> list[Any]:
    return [r.doc for r in raws if r.error is None]


def test_ndjson_array_document_and_gzip(tmp_path: Path, events: list[dict[str, Any]]) -> None:
    (tmp_path / "a.ndjson").write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events[:3]))
    (tmp_path / "b.json").write_text(json.dumps(events[3:6]))
    (tmp_path / "c.json").write_text(json.dumps(events[6], indent=2))  # file transport, one event per file
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "d.jsonl.gz").write_bytes(gzip.compress(b"\n".join(orjson.dumps(e) for e in events[7:9])))
    (tmp_path / "notes.txt").write_text("not an event file")  # not picked up from a directory
    raws = list(read_events([tmp_path]))
    assert [r.error for r in raws] == [None] * 9
    assert _ok(raws) == events[:9]
    assert [r.location for r in raws][:4] == ["line 1", "line 2", "line 3", "index 0"]
    assert raws[6].location == "document"


def test_errors_name_file_and_line(tmp_path: Path, events: list[dict[str, Any]]) -> None:
    lines = [orjson.dumps(events[0]), b'{"eventTime": oops}', orjson.dumps(events[1]), b"\xff\xfe{}"]
    path = tmp_path / "mixed.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")
    raws = list(read_events([path]))
    assert _ok(raws) == [events[0], events[1]]
    bad = [r for r in raws if r.error]
    assert bad[0].where == f"{path}:line 2" and "malformed JSON" in (bad[0].error or "")
    assert bad[1].where == f"{path}:line 4" and "not valid UTF-8" in (bad[1].error or "")


def test_malformed_document_reports_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{\n  "eventTime": "x",\n  "run": {,}\n}\n')
    (raw,) = read_events([path])
    assert raw.error is not None and "line 3 column" in raw.error


def test_empty_and_missing_files(tmp_path: Path) -> None:
    (tmp_path / "empty.json").write_text("  \n")
    (raw,) = read_events([tmp_path / "empty.json"])
    assert raw.error == "empty input: no events"
    (raw,) = read_events([tmp_path / "nope.json"])
    assert raw.error is not None and raw.error.startswith("cannot read")


def test_span_blocks_are_the_file_cut_at_line_ends(tmp_path: Path, events: list[dict[str, Any]]) -> None:
    """With spans, the blocks after a file's first are offsets only, read by whoever prepares them (a worker
    process): together they are the file, each cut at a line end, and each numbers its lines from 1."""
    lines = [orjson.dumps(e) for e in events] * 3
    lines.insert(5, b"")
    lines[9] = lines[9] + b"\r"
    data = b"\n".join(lines)  # no line end at the very end
    path = tmp_path / "big.ndjson"
    path.write_bytes(data)
    blocks = list(reader.read_blocks([path], split_bytes=2 * max(map(len, lines)), spans=True))
    assert len(blocks) > 5 and blocks[0].span is None and all(b.span and not b.data for b in blocks[1:])
    loaded = [b.loaded() for b in blocks]
    assert b"".join(b.data for b in loaded) == data
    assert all(b.data.endswith(b"\n") for b in loaded[:-1])
    whole = [(r.location, r.text) for r in read_events([path])]
    cut, before = [], 0
    for b in loaded:
        cut += [(f"line {(r.line or 0) + before}", r.text) for r in b.events()]
        before += b.data.count(b"\n")
    assert cut == whole
    path.write_bytes(data[: len(data) // 2])  # the file shortened while it was being ingested
    assert "shortened" in (blocks[-1].loaded().error or "")
    assert [r.error for r in blocks[-1].events()] == [blocks[-1].loaded().error]


def test_a_named_pipe_is_read_whole_not_in_spans(tmp_path: Path, events: list[dict[str, Any]]) -> None:
    """Spans are offsets into a regular file; a named pipe (``<(zcat …)``) has neither size nor offsets, so its
    blocks are read as they come: every event of it, none lost after the first block."""
    import threading

    lines = [orjson.dumps(e) for e in events] * 40
    data = b"\n".join(lines) + b"\n"
    fifo = tmp_path / "events.fifo"
    os.mkfifo(fifo)
    writer = threading.Thread(target=fifo.write_bytes, args=(data,))
    writer.start()
    try:
        blocks = list(reader.read_blocks([fifo], split_bytes=2 * max(map(len, lines)), spans=True))
    finally:
        writer.join()
    assert len(blocks) > 5 and all(b.span is None for b in blocks)
    assert [r.text for b in blocks for r in b.events()] == lines


def test_oversized_event_refused_unparsed(tmp_path: Path, events: list[dict[str, Any]]) -> None:
    huge = dict(events[0], padding="x" * (reader.MAX_EVENT_BYTES + 10))
    path = tmp_path / "big.ndjson"
    path.write_bytes(orjson.dumps(events[1]) + b"\n" + orjson.dumps(huge) + b"\n" + orjson.dumps(events[2]) + b"\n")
    raws = list(read_events([path]))
    assert _ok(raws) == [events[1], events[2]]
    assert "exceeds the 8,388,608-byte limit" in (raws[1].error or "")


def test_blocks_read_the_same_events_as_whole_files(tmp_path: Path, events: list[dict[str, Any]]) -> None:
    """Parallel ingest reads big NDJSON inputs a block at a time: the events, their text and their line numbers
    must be what reading the whole file gives, wherever the cuts fall."""
    lines = [orjson.dumps(e) for e in events] * 3
    lines[0] = orjson.dumps({**events[0], "padding": "x" * 3000})  # a first line longer than a block
    lines.insert(5, b"")  # blank lines and CRLF endings
    lines[9] = lines[9] + b"\r"
    lines[12] = b"{broken"
    data = b"\n".join(lines) + b"\n"
    (tmp_path / "big.ndjson").write_bytes(data)
    (tmp_path / "big.ndjson.gz").write_bytes(gzip.compress(data))
    (tmp_path / "array.json").write_bytes(orjson.dumps(events * 3))
    for name in ("big.ndjson", "big.ndjson.gz", "array.json"):
        whole = [(r.location, r.text, r.error) for r in read_events([tmp_path / name])]
        blocks = list(reader.read_blocks([tmp_path / name], split_bytes=1024))
        cut = [(r.location, r.text, r.error) for b in blocks for r in b.events()]
        assert cut == whole, name
        assert len(blocks) == 1 if name == "array.json" else len(blocks) > 5  # an array is never cut
    assert whole[0][0] == "index 0"
