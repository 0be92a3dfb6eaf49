"""The local services that stand in for RDS MySQL and Redshift: are they there, and the seed's data in them.

``check`` answers per configured endpoint (a TCP connect, the engine's protocol, then a login: the Glue
connection's user on MySQL, the Redshift user on PostgreSQL) and names what to run next;
``seed`` creates what the seed's scenarios read: MySQL ``employeedb.employee`` with its rows and a login for the
Glue connection, and a PostgreSQL role for the Redshift JDBC user.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

from lineagelab.profile import Endpoint, Profile, jdbc_parts

EMPLOYEE_ROWS = [
    ("E1000", "Employee_0", "Quality Control", "Operator", "2021-08-08", "33002.00", "1", "Night", "Plant C"),
    ("E1001", "Employee_1", "Maintenance", "Supervisor", "2015-12-31", "69813.76", "5", "Evening", "Plant B"),
    ("E1002", "Employee_2", "Production", "Technician", "2015-06-18", "46753.32", "1", "Evening", "Plant A"),
]
EMPLOYEE_COLUMNS = ["EmployeeID", "Name", "Department", "Role", "HireDate", "Salary", "PerformanceRating", "Shift",
                    "Location"]


@dataclass
class Status:
    endpoint: Endpoint
    ok: bool
    message: str


SEED_HINT = "run `lineagelab services seed`"
# The Redshift admin user the seed creates on PostgreSQL; the Redshift scripts log in as it.
PG_USER = "awsuser"


def _answers(hostport: str, timeout: float = 2.0) -> str | None:
    host, port = hostport.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return None
    except OSError as exc:
        return exc.strerror or str(exc)


def _speaks_mysql(hostport: str, timeout: float = 1.5) -> bool:
    """MySQL/MariaDB greet first (protocol version 10 after the 4-byte packet header); PostgreSQL waits."""
    host, port = hostport.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=timeout) as sock:
            greeting = sock.recv(5)
    except OSError:
        return False
    return len(greeting) == 5 and greeting[4] == 10


def check(profile: Profile) -> list[Status]:
    """Per endpoint: does it answer, in its engine's protocol, and can the profile's users log in."""
    out: list[Status] = []
    for e in profile.endpoints:
        problem = _answers(e.local)
        what = "MySQL/MariaDB" if e.engine == "mysql" else "PostgreSQL"
        if problem:
            out.append(Status(e, False, f"{e.aws} -> {e.local}: no {what} answers ({problem}); start it, e.g. "
                                        "`docker compose -f docker/compose.yaml up -d`"))
            continue
        login = _mysql_login(profile, e) if e.engine == "mysql" else _postgres_login(e)
        answers = "a service answers" if login and login.startswith("not as") else f"{what} answers"
        out.append(Status(e, login is None, f"{e.aws} -> {e.local}: {answers}"
                          + ("" if login is None else f", but {login}")))
    return out


def _mysql_login(profile: Profile, e: Endpoint) -> str | None:
    """Try the first Glue connection that points at ``e`` (None: fine, or nothing to try)."""
    if not _speaks_mysql(e.local):
        return "not as MySQL/MariaDB (is it PostgreSQL?): fix `local` or `engine` of this endpoint"
    for c in profile.connections.values():
        _scheme, host, port, db = jdbc_parts(c.url)
        if profile.endpoint(host, port or 3306) != e:
            continue
        import pymysql

        host_l, port_l = e.local.rsplit(":", 1)
        try:
            pymysql.connect(host=host_l, port=int(port_l), user=c.user or "", password=c.password or "",
                            database=e.databases.get(db, db) or None, connect_timeout=3).close()
        except pymysql.MySQLError as exc:
            return f"connection {c.name!r} cannot log in: {exc.args[-1] if exc.args else exc}; {SEED_HINT}"
    return None


def _postgres_login(e: Endpoint) -> str | None:
    """Log in as the Redshift user to each database the endpoint maps to (a TCP connect alone would accept a
    MariaDB port)."""
    import psycopg

    host, port = e.local.rsplit(":", 1)
    for db in sorted(set(e.databases.values())) or ["postgres"]:
        try:
            psycopg.connect(host=host, port=int(port), user=PG_USER, dbname=db, connect_timeout=3,
                            sslmode="disable").close()
        except psycopg.OperationalError as exc:
            text = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            text = text.split("FATAL:", 1)[-1].strip()
            if "does not exist" in text or "password authentication failed" in text:
                return f"{PG_USER} cannot log in to {db}: {text}; {SEED_HINT}"
            return f"not as PostgreSQL (is it MySQL/MariaDB? {text}): fix `local` or `engine` of this endpoint"
    return None


def seed(profile: Profile, mysql_admin: tuple[str, str] = ("root", ""),
         pg_admin: str = "postgres") -> list[str]:
    """Create the seed's source data and logins on the local services; returns what was done."""
    import pymysql

    done: list[str] = []
    seen: set[tuple[str, str]] = set()
    for c in profile.connections.values():
        _scheme, host, port, db = jdbc_parts(c.url)
        e = profile.endpoint(host, port or 3306)
        if e is None or e.engine != "mysql" or not db:
            continue
        local_db = e.databases.get(db, db)
        if (e.local, local_db) in seen:
            continue
        seen.add((e.local, local_db))
        h, p = e.local.rsplit(":", 1)
        con = pymysql.connect(host=h, port=int(p), user=mysql_admin[0], password=mysql_admin[1], autocommit=True)
        with con.cursor() as cur:
            cur.execute(f"CREATE DATABASE IF NOT EXISTS `{local_db}`")
            cur.execute(f"DROP TABLE IF EXISTS `{local_db}`.employee")
            cur.execute(f"CREATE TABLE `{local_db}`.employee ("
                        + ", ".join(f"{c_} longtext" for c_ in EMPLOYEE_COLUMNS) + ")")
            cur.executemany(f"INSERT INTO `{local_db}`.employee VALUES ({', '.join(['%s'] * 9)})", EMPLOYEE_ROWS)
            if c.user:
                # MySQL 8 defaults to caching_sha2_password, which the MariaDB JDBC driver cannot use without TLS
                cur.execute("SELECT VERSION()")
                row = cur.fetchone()
                how = "IDENTIFIED BY" if row and "mariadb" in str(row[0]).lower() else \
                    "IDENTIFIED WITH mysql_native_password BY"
                for where in ("%", "localhost"):
                    cur.execute(f"CREATE USER IF NOT EXISTS %s@%s {how} %s", (c.user, where, c.password or ""))
                    cur.execute(f"ALTER USER %s@%s {how} %s", (c.user, where, c.password or ""))
                    cur.execute(f"GRANT ALL ON `{local_db}`.* TO %s@%s", (c.user, where))
        con.close()
        done.append(f"MySQL {e.local}: {local_db}.employee with {len(EMPLOYEE_ROWS)} rows, login {c.user!r}")
    for e in profile.endpoints:
        if e.engine != "postgres":
            continue
        import psycopg

        h, p = e.local.rsplit(":", 1)
        with psycopg.connect(host=h, port=int(p), user=pg_admin, dbname="postgres", autocommit=True) as pg:
            for local_db in set(e.databases.values()):
                if not pg.execute("SELECT 1 FROM pg_database WHERE datname = %s", (local_db,)).fetchone():
                    pg.execute(f'CREATE DATABASE "{local_db}"')
                    done.append(f"PostgreSQL {e.local}: database {local_db}")
            if not pg.execute("SELECT 1 FROM pg_roles WHERE rolname = 'awsuser'").fetchone():
                pg.execute("CREATE ROLE awsuser LOGIN SUPERUSER")
                done.append(f"PostgreSQL {e.local}: role awsuser (the Redshift admin user)")
    return done
