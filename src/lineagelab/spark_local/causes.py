"""The cause of a failed script in one line: the innermost database or Spark cause of a Java error.

PySpark surfaces a JDBC failure as ``Py4JJavaError: An error occurred while calling o218.load.`` or as Spark's
``[FAILED_JDBC.CONNECTION] … Couldn't connect to the database``; what the user needs (``Table 'shop.orderz' doesn't
exist``, ``Access denied for user …``, ``Connection refused to 127.0.0.1:3307``) sits at the end of the Java cause
chain, which this module walks.
"""

from __future__ import annotations

import re
from typing import Any

SERVICES_HINT = "`lineagelab services check` tests the profile's endpoints"

# Where the drivers put the address they tried, outermost first (MariaDB, then PostgreSQL's wording).
_ADDRESS = (re.compile(r"address=\(host=([^)]+)\)\(port=(\d+)\)"), re.compile(r"host:([\w.\-]+), port:(\d+)"),
            re.compile(r"Connection to ([\w.\-]+):(\d+) refused"), re.compile(r"Could not connect to ([\w.\-]+):(\d+)"))
_NOISE = (re.compile(r"^\(conn=\d+\)\s*"), re.compile(r"^Could not connect to address=\([^:]*\)\s*:\s*"),
          re.compile(r"^(ERROR|FATAL):\s*"))
# An answer in the wrong protocol: the engine behind the port is not the one the URL names.
_WRONG_ENGINE = {
    "unexpected end of stream": "did not answer as MySQL/MariaDB (is it PostgreSQL?)",
    "setting up the SSL connection": "did not answer as PostgreSQL (is it MySQL/MariaDB?)",
}


def java_chain(exc: BaseException) -> list[tuple[str, str]]:
    """(class name, message) of the Java throwable behind ``exc`` and each of its causes, outermost first."""
    return throwable_chain(getattr(exc, "java_exception", None) or getattr(exc, "_origin", None))


def throwable_chain(throwable: Any) -> list[tuple[str, str]]:
    """(class name, message) of a py4j Java throwable and each of its causes, outermost first."""
    chain: list[tuple[str, str]] = []
    try:
        while throwable is not None and len(chain) < 20:
            chain.append((str(throwable.getClass().getName()), str(throwable.getMessage() or "")))
            throwable = throwable.getCause()
    except Exception:  # the JVM is gone (Spark stopped): what was read so far is all there is
        pass
    return chain


def _clean(message: str) -> str:
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    # a Python worker's failure (a UDF) carries its traceback: the exception is its last line
    line = (lines[-1] if lines[0].startswith("Traceback") else lines[0]) if lines else ""
    for pattern in _NOISE:
        line = pattern.sub("", line)
    return line


def _address(chain: list[tuple[str, str]]) -> str | None:
    for _cls, message in chain:
        for pattern in _ADDRESS:
            if m := pattern.search(message):
                return f"{m.group(1)}:{m.group(2)}"
    return None


def cause(exc: BaseException) -> str | None:
    """The innermost cause of a Java-backed error in one line (None when ``exc`` carries no Java error)."""
    return describe(java_chain(exc))


def describe(chain: list[tuple[str, str]]) -> str | None:
    """The innermost cause of a Java cause chain in one line, with the address it concerns and what to run."""
    if not chain:
        return None
    cls, message = chain[-1]
    text = _clean(message)
    address = _address(chain)
    for marker, wrong in _WRONG_ENGINE.items():
        if any(marker in m for _c, m in chain):
            return f"{address or 'the database port'} {wrong}; {SERVICES_HINT}"
    if cls == "java.net.ConnectException" or cls.endswith("UnknownHostException"):
        what = text or cls.rsplit(".", 1)[-1]
        return f"{what} to {address}; {SERVICES_HINT}" if address else f"{what}; {SERVICES_HINT}"
    if not text:
        text = cls.rsplit(".", 1)[-1]
    return f"{text}; {SERVICES_HINT}" if "FAILED_JDBC.CONNECTION" in chain[0][1] else text
