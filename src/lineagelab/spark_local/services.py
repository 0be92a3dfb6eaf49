"""The local services that stand in for RDS MySQL and Redshift: are they there, and the seed's data in them.

``check`` answers per configured endpoint (a TCP connect, then a login where the profile has credentials for it);
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


def _answers(hostport: str, timeout: float = 2.0) -> str | None:
    host, port = hostport.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return None
    except OSError as exc:
        return exc.strerror or str(exc)


def check(profile: Profile) -> list[Status]:
    out: list[Status] = []
    for e in profile.endpoints:
        problem = _answers(e.local)
        what = "MySQL/MariaDB" if e.engine == "mysql" else "PostgreSQL"
        if problem:
            out.append(Status(e, False, f"{e.aws} -> {e.local}: no {what} answers ({problem}); start it, e.g. "
                                        "`docker compose -f docker/compose.yaml up -d`"))
            continue
        login = _login(profile, e)
        out.append(Status(e, login is None, f"{e.aws} -> {e.local}: {what} answers"
                          + ("" if login is None else f", but {login}")))
    return out


def _login(profile: Profile, e: Endpoint) -> str | None:
    """Try the first Glue connection that points at ``e`` (None: fine, or nothing to try)."""
    for c in profile.connections.values():
        _scheme, host, port, db = jdbc_parts(c.url)
        if profile.endpoint(host, port or 3306) != e or e.engine != "mysql":
            continue
        import pymysql

        host_l, port_l = e.local.rsplit(":", 1)
        try:
            pymysql.connect(host=host_l, port=int(port_l), user=c.user or "", password=c.password or "",
                            database=e.databases.get(db, db) or None, connect_timeout=3).close()
        except pymysql.MySQLError as exc:
            return f"connection {c.name!r} cannot log in: {exc.args[-1] if exc.args else exc}"
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
