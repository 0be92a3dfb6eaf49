"""The running job's Glue connections and capture, reached by the ``awsglue`` shim.

Glue resolves ``extract_jdbc_conf(connection_name)`` against its connection catalog; locally the connections come
from the profile's ``[connections.NAME]`` tables or a ``--connections`` file. Passwords go to the script only.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from lineagelab.profile import Connection, ProfileError, jdbc_parts

_STATE: dict[str, Any] = {"connections": {}, "capture": None, "said": set()}


class UnknownConnection(KeyError):
    """A Glue connection name the profile and the connections file do not define."""

    def __str__(self) -> str:
        return str(self.args[0])


def load_file(path: Path) -> dict[str, Connection]:
    """A connections file: TOML (``[name] url=… user=… password=…``) or JSON (``{"name": {…}}``)."""
    text = path.read_text()
    try:
        doc = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ProfileError(f"{path}: {exc}") from None
    doc = doc.get("connections", doc)
    out: dict[str, Connection] = {}
    for name, c in doc.items():
        if not isinstance(c, dict) or not str(c.get("url", "")).startswith("jdbc:"):
            raise ProfileError(f"{path}: connection {name!r} needs a jdbc: url")
        out[name] = Connection(name, str(c["url"]), c.get("user"), c.get("password"))
    return out


def configure(connections: dict[str, Connection], capture: Any = None) -> None:
    _STATE["connections"] = dict(connections)
    _STATE["capture"] = capture
    _STATE["said"] = set()


def capture() -> Any:
    """The running job's capture (None when lineage is off)."""
    return _STATE["capture"]


def first_time(note: str) -> bool:
    """True the first time ``note`` is asked about in this run (so a run says a thing once)."""
    said: set[str] = _STATE["said"]
    if note in said:
        return False
    said.add(note)
    return True


def extract(name: str) -> dict[str, str]:
    """What Glue's extract_jdbc_conf returns: url (without database), fullUrl, user, password, vendor."""
    conns: dict[str, Connection] = _STATE["connections"]
    if name not in conns:
        known = ", ".join(sorted(conns)) or "none"
        raise UnknownConnection(f"Glue connection {name!r} is not defined (known: {known}); add "
                               f"[connections.{name}] to lineagelab.toml or pass --connections FILE")
    c = conns[name]
    scheme, host, port, _db = jdbc_parts(c.url)
    base = f"jdbc:{scheme}://{host}" + (f":{port}" if port else "")
    return {"url": base, "fullUrl": c.url, "user": c.user or "", "password": c.password or "",
            "vendor": "mysql" if scheme in ("mysql", "mariadb") else scheme, "enforceSSL": "false"}


def flush_capture() -> None:
    cap = _STATE.get("capture")
    if cap is not None:
        cap.flush()
