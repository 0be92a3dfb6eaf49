"""Run a Glue job, a Glue notebook or an EMR Serverless entry point unchanged on local Spark, with lineage.

The script gets what its AWS runtime gives it: Glue's ``sys.argv`` (``--JOB_NAME`` and ``--KEY value`` pairs),
the ``awsglue`` shim on ``sys.path``, ``spark``/``sc``/``glueContext`` predefined as in Glue notebooks, GLUE_*
environment variables, and the seed's ``{account_id}`` placeholders filled from the profile. Its ``getOrCreate()``
returns the preset session built here, so capture is on before its first action.
"""

from __future__ import annotations

import json
import re
import sys
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lineagelab.profile import Connection, Profile
from lineagelab.spark_local import causes, glue_connections, redirect, session
from lineagelab.spark_local.capture import SparkCapture

SHIM = Path(__file__).parent / "shim"


@dataclass
class RunResult:
    events: list[dict[str, Any]] = field(default_factory=list)
    error: BaseException | None = None
    error_line: str = ""  # the error's cause in one line, read while the JVM still answers
    notes: list[str] = field(default_factory=list)
    writes: int = 0
    seconds: float = 0.0
    capture_errors: list[str] = field(default_factory=list)


@dataclass
class Script:
    """Code to run, split into cells (a plain script is one cell), and the conf its magics asked for."""

    path: Path
    cells: list[str]
    conf: dict[str, str] = field(default_factory=dict)
    ignored_magics: list[str] = field(default_factory=list)


def read_script(path: Path, account: str) -> Script:
    """A .py script, or a notebook (.ipynb, or a .py with ``%%configure`` / ``%magic`` cells)."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such script")
    if path.suffix == ".ipynb":
        nb = json.loads(path.read_text())
        cells = ["".join(c.get("source", [])) if isinstance(c.get("source"), list) else str(c.get("source", ""))
                 for c in nb.get("cells", []) if c.get("cell_type") == "code"]
    else:
        text = path.read_text()
        cells = re.split(r"^# ?%%\s*$|^(?=%%\w)", text, flags=re.M) if "%%" in text or "\n%" in text else [text]
    out = Script(path, [])
    for cell in cells:
        cell = cell.replace("{account_id}", account)
        stripped = cell.lstrip()
        if stripped.startswith("%%configure"):
            body = stripped.split("\n", 1)[1] if "\n" in stripped else "{}"
            out.conf.update(_configure(body, path))
            continue
        code_lines = []
        for line in cell.splitlines():
            if line.lstrip().startswith("%"):
                out.ignored_magics.append(line.strip())
            else:
                code_lines.append(line)
        code = "\n".join(code_lines)
        if code.strip():
            out.cells.append(code)
    for cell in out.cells:  # a syntax error is reported before Spark starts, and no run is recorded
        try:
            compile(cell, str(path), "exec")
        except SyntaxError as exc:
            raise ValueError(f"{path}:{exc.lineno}: SyntaxError: {exc.msg}") from None
    return out


def _configure(body: str, path: Path) -> dict[str, str]:
    """A Glue notebook's ``%%configure`` JSON: its ``--conf`` string (as the seed writes it) becomes Spark conf."""
    try:
        doc = json.loads(body.replace("\\\n", " "))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: %%configure is not JSON: {exc}") from None
    conf: dict[str, str] = {}
    for key, value in doc.items():
        if key == "--conf":
            conf.update(session.parse_conf_string(str(value)))
        elif key.startswith("--"):
            conf[f"glue.{key[2:]}"] = str(value)
    return conf


def run(
    script: Script,
    *,
    app_name: str,
    profile: Profile,
    preset: str = "glue5",
    argv: Sequence[str] = (),
    conf: dict[str, str] | None = None,
    connections: dict[str, Connection] | None = None,
    home: Path | None = None,
    glue_globals: bool = True,
    capture: bool = True,
) -> RunResult:
    """Run ``script`` in this process on a preset local SparkSession; events are returned, not stored."""
    result = RunResult()
    notes = session.Notes()
    all_conf = {**script.conf, **(conf or {})}
    for m in script.ignored_magics:
        notes.add(f"notebook magic ignored locally: {m}")
    started = time.perf_counter()
    spark = session.build_session(app_name, profile, all_conf, preset=preset, home=home, notes=notes)
    official = spark.sparkContext.getConf().get("spark.extraListeners", "") == session.LISTENER
    cap: SparkCapture | None = None
    if capture and not official:
        cap = session.attach_capture(spark, profile, result.events.append, all_conf, app_name)
    glue_connections.configure({**profile.connections, **(connections or {})}, cap)
    namespace: dict[str, Any] = {"__name__": "__main__", "__file__": str(script.path)}
    if glue_globals:
        if str(SHIM) not in sys.path:
            sys.path.insert(0, str(SHIM))
        from awsglue.context import GlueContext

        namespace.update(spark=spark, sc=spark.sparkContext, glueContext=GlueContext(spark.sparkContext))
    old_argv = sys.argv
    sys.argv = [str(script.path), *argv]
    try:
        for cell in script.cells:
            exec(compile(cell, str(script.path), "exec"), namespace)
    except SystemExit as exc:
        if exc.code not in (0, None):
            result.error = exc
    except BaseException as exc:
        result.error = exc
    finally:
        sys.argv = old_argv
        result.error_line = _one_line(result.error)
        if cap is not None:
            cap.close(error=result.error_line or None)
            result.writes = cap.writes
            result.capture_errors = cap.errors
            cap.detach()
        glue_connections.configure({}, None)
        redirect.uninstall()
        if official:  # the official listener writes its events when the application ends
            events_file = Path(spark.sparkContext.getConf().get("spark.openlineage.transport.location", ""))
            spark.stop()
            if events_file.is_file():
                result.events.extend(json.loads(line) for line in events_file.read_text().splitlines() if line)
                events_file.unlink()
    result.notes = notes.lines
    result.seconds = time.perf_counter() - started
    return result


def _one_line(exc: BaseException | None) -> str:
    """A Java-backed error names its innermost cause; a Python one its type and first line."""
    if exc is None:
        return ""
    if (java := causes.cause(exc)) is not None:
        return java
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


def format_error(exc: BaseException, script: Path | None = None, line: str = "") -> str:
    """The user's error in one line (``line``: its cause as the run read it), with the line of their script it
    came from."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if script is not None and f.filename == str(script)]
    where = f" ({frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return (line or _one_line(exc)) + where
