"""The seed's four scenarios as the events AWS emits for them (Glue job, Glue notebook, Redshift, EMR Serverless).

These are the bundled sample events of the demo and the fixtures of the store and graph tests. They follow the shapes
openlineage-spark and DataZone produce (docs/architecture.md names them): job names, facets, Glue ARN symlinks, the
``environment-properties`` facet, column lineage with transformation types. A second day of the Glue job drops a
column, so history, as-of and diff have something to show.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from openlineage.client import event_v2 as ev
from openlineage.client.facet_v2 import column_lineage_dataset

from lineagelab.events import build, naming

ACCOUNT = "123456789012"
REGION = "us-west-2"
BUCKET = f"datazone-{ACCOUNT}"
RDS_HOST = "lineage-rds.c1a2b3c4d5e6.us-west-2.rds.amazonaws.com"
WORKGROUP = "default-workgroup"
DOMAIN = "dzd_5m2xyzabc12345"

EMPLOYEE_COLS = ["EmployeeID", "Name", "Department", "Role", "HireDate", "Salary", "PerformanceRating", "Shift",
                 "Location"]
ATTENDANCE = [("EmployeeID", "string"), ("Date", "date"), ("ShiftStart", "timestamp"), ("ShiftEnd", "timestamp"),
              ("Absent", "boolean"), ("OvertimeHours", "integer")]
RS_EMPLOYEE = [("employeeid", "varchar"), ("name", "varchar"), ("department", "varchar"), ("role", "varchar"),
               ("hiredate", "date"), ("salary", "double precision"), ("performancerating", "integer"),
               ("shift", "varchar"), ("location", "varchar")]
RS_ABSENT = [("employeeid", "varchar"), ("date", "date"), ("shiftstart", "timestamp"), ("shiftend", "timestamp"),
             ("absent", "boolean"), ("overtimehours", "integer")]

SPARK_ENGINE = build.processing_engine("spark", "4.3.0")


def _uuid(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"lineagelab-sample/{name}"))


def _ds(ns_name: tuple[str, str], fields: Sequence[tuple[str, str]], **facets: Any) -> dict[str, Any]:
    ns, name = ns_name
    base = {"schema": build.schema(fields), "dataSource": build.datasource(ns)}
    return {"namespace": ns, "name": name, "facets": {**base, **facets}}


def _spark_write(
    app: str,
    job_name: str,
    day: str,
    inputs: list[dict[str, Any]],
    output: dict[str, Any],
    lineage: column_lineage_dataset.ColumnLineageDatasetFacet,
    env: dict[str, str],
    rows: int,
) -> list[ev.RunEvent]:
    """Application START, write START/COMPLETE, application COMPLETE — as openlineage-spark sends them."""
    app_run, run = _uuid(f"{app}/{day}"), _uuid(f"{job_name}/{day}")
    def t(s: int) -> str:
        return f"{day}T10:00:{s:02d}.000Z"

    common: dict[str, Any] = {"processing_engine": SPARK_ENGINE,
                              "environment-properties": build.environment_properties(env)}
    app_type = build.job_type("NONE", "SPARK", "APPLICATION")
    write_type = build.job_type("BATCH", "SPARK", "SQL_JOB")
    ins = [ev.InputDataset(namespace=d["namespace"], name=d["name"], facets=d["facets"]) for d in inputs]

    def out(final: bool) -> ev.OutputDataset:
        facets = dict(output["facets"])
        facets["columnLineage"] = lineage
        return ev.OutputDataset(namespace=output["namespace"], name=output["name"], facets=facets,
                                outputFacets={"outputStatistics": build.output_statistics(rows)} if final else {})

    par = {"parent": build.parent(app_run, "default", app)}
    events = [
        build.run_event("START", t(0), app_run, "default", app, run_facets=common, job_facets={"jobType": app_type}),
        build.run_event("START", t(5), run, "default", job_name, inputs=ins, outputs=[out(False)],
                        run_facets={**common, **par}, job_facets={"jobType": write_type}),
        build.run_event("COMPLETE", t(9), run, "default", job_name, inputs=ins, outputs=[out(True)],
                        run_facets={**common, **par}, job_facets={"jobType": write_type}),
        build.run_event("COMPLETE", t(12), app_run, "default", app, run_facets=common,
                        job_facets={"jobType": app_type}),
    ]
    return events


def glue_env(job: str) -> dict[str, str]:
    return {"AWS_DEFAULT_REGION": REGION, "GLUE_VERSION": "5.0", "GLUE_PYTHON_VERSION": "3", "GLUE_COMMAND_CRITERIA":
            "glueetl", "JOB_NAME": job}


def glue_job(day: str, drop: Sequence[str] = ()) -> list[ev.RunEvent]:
    """Scenario 1: RDS MySQL employee + S3 attendance.csv -> inner join -> parquet + Glue table."""
    employee = naming.mysql(RDS_HOST, 3306, "employeedb", "employee")
    attendance = naming.s3(f"s3://{BUCKET}/csv/attendance.csv")
    target = naming.s3(f"s3://{BUCKET}/attendanceparquet/")
    glue = naming.glue_table(REGION, ACCOUNT, "gluedbname", "attendance_with_emp1")
    emp_fields = [(c, "string") for c in EMPLOYEE_COLS]
    out_fields = [f for f in emp_fields + ATTENDANCE[1:] if f[0] not in drop]
    lineage = build.column_lineage(
        {
            c: [(*(employee if c in EMPLOYEE_COLS else attendance), c, "DIRECT", "IDENTITY", None)]
            for c, _ in out_fields
        },
        dataset=[(*employee, "EmployeeID", "INDIRECT", "JOIN", None),
                 (*attendance, "EmployeeID", "INDIRECT", "JOIN", None)],
    )
    output = _ds(target, out_fields, symlinks=build.symlink(*glue), lifecycleStateChange=build.lifecycle("OVERWRITE"))
    return _spark_write(
        "lineageglue",
        "lineageglue.execute_create_data_source_table_as_select_command.gluedbname_attendance_with_emp1",
        day, [_ds(employee, emp_fields), _ds(attendance, ATTENDANCE)], output, lineage, glue_env("lineageglue"), 5,
    )


def glue_notebook(day: str) -> list[ev.RunEvent]:
    """Scenario 2: notebook with the seed's %%configure: average salary by location for Production."""
    employees = naming.s3(f"s3://{BUCKET}/csv/employees.csv")
    target = naming.s3(f"s3://{BUCKET}/notebook/avg_salary_by_location/")
    emp_fields = [(c, "double" if c == "Salary" else "integer" if c == "PerformanceRating" else "string")
                  for c in EMPLOYEE_COLS]
    lineage = build.column_lineage(
        {"Location": [(*employees, "Location", "DIRECT", "IDENTITY", None)],
         "avg_salary": [(*employees, "Salary", "DIRECT", "AGGREGATION", "avg(Salary)")]},
        dataset=[(*employees, "Location", "INDIRECT", "GROUP_BY", None),
                 (*employees, "Department", "INDIRECT", "FILTER", None)],
    )
    output = _ds(target, [("Location", "string"), ("avg_salary", "double")])
    return _spark_write(
        "lineagenotebook",
        "lineagenotebook.execute_insert_into_hadoop_fs_relation_command.notebook_avg_salary_by_location",
        day, [_ds(employees, emp_fields)], output, lineage, glue_env("lineagenotebook"), 3,
    )


def redshift(day: str) -> list[ev.RunEvent]:
    """Scenario 3: COPY absent, COPY employee, CTAS employeewithabsent on Redshift Serverless."""
    def rs(table: str) -> tuple[str, str]:
        return naming.redshift_serverless(WORKGROUP, ACCOUNT, REGION, "dev", "public", table)

    ns = rs("x")[0]
    csv_att = naming.s3(f"s3://{BUCKET}/csv/attendance.csv")
    csv_emp = naming.s3(f"s3://{BUCKET}/csv/employees.csv")
    out: list[ev.RunEvent] = []
    statements = [
        ("copy_dev_public_absent", csv_att, [c for c, _ in ATTENDANCE], rs("absent"), RS_ABSENT,
         f"COPY absent FROM 's3://{BUCKET}/csv/attendance.csv' IAM_ROLE '…' CSV IGNOREHEADER 1"),
        ("copy_dev_public_employee", csv_emp, EMPLOYEE_COLS, rs("employee"), RS_EMPLOYEE,
         f"COPY employee FROM 's3://{BUCKET}/csv/employees.csv' IAM_ROLE '…' CSV IGNOREHEADER 1"),
    ]
    for i, (job, src, src_cols, dst, dst_fields, query) in enumerate(statements):
        lineage = build.column_lineage(
            {d: [(*src, s, "DIRECT", "IDENTITY", None)] for (d, _), s in zip(dst_fields, src_cols, strict=True)})
        out += _sql_run(ns, job, day, i, query, [ev.InputDataset(namespace=src[0], name=src[1])],
                        _ds(dst, dst_fields, columnLineage=lineage))
    emp, absent, target = rs("employee"), rs("absent"), rs("employeewithabsent")
    fields = [*RS_EMPLOYEE, ("absent", "boolean"), ("overtimehours", "integer")]
    lineage = build.column_lineage(
        {c: [(*(absent if c in ("absent", "overtimehours") else emp), c, "DIRECT", "IDENTITY", None)]
         for c, _ in fields},
        dataset=[(*emp, "employeeid", "INDIRECT", "JOIN", None), (*absent, "employeeid", "INDIRECT", "JOIN", None)],
    )
    query = ("CREATE TABLE public.employeewithabsent AS SELECT e.*, a.absent, a.overtimehours FROM public.employee e "
             "INNER JOIN public.absent a ON e.EmployeeID = a.EmployeeID")
    out += _sql_run(ns, "ctas_dev_public_employeewithabsent", day, 2, query,
                    [ev.InputDataset(namespace=d[0], name=d[1], facets={"schema": build.schema(f)})
                     for d, f in ((emp, RS_EMPLOYEE), (absent, RS_ABSENT))],
                    _ds(target, fields, columnLineage=lineage, lifecycleStateChange=build.lifecycle("CREATE")))
    return out


def _sql_run(ns: str, job: str, day: str, i: int, query: str, inputs: list[ev.InputDataset],
             output: dict[str, Any]) -> list[ev.RunEvent]:
    run = _uuid(f"redshift/{job}/{day}")
    facets = {"sql": build.sql(query, "redshift"), "jobType": build.job_type("BATCH", "REDSHIFT", "QUERY")}
    o = ev.OutputDataset(namespace=output["namespace"], name=output["name"], facets=output["facets"])
    return [build.run_event(kind, f"{day}T11:00:{i * 10 + s:02d}.000Z", run, ns, job, inputs=inputs, outputs=[o],
                            job_facets=facets)
            for kind, s in (("START", 0), ("COMPLETE", 3))]


def emr(day: str) -> list[ev.RunEvent]:
    """Scenario 4: EMR Serverless reads RDS MySQL and Redshift over JDBC and writes parquet to S3."""
    employee = naming.mysql(RDS_HOST, 3306, "employeedb", "employee")
    rs_table = naming.redshift_serverless(WORKGROUP, ACCOUNT, REGION, "dev", "public", "employeewithabsent")
    target = naming.s3(f"s3://{BUCKET}/emr/employee_absence_summary/")
    lineage = build.column_lineage(
        {"EmployeeID": [(*employee, "EmployeeID", "DIRECT", "IDENTITY", None)],
         "Name": [(*employee, "Name", "DIRECT", "IDENTITY", None)],
         "days_absent": [(*rs_table, "absent", "DIRECT", "AGGREGATION", "sum(CASE WHEN absent THEN 1 ELSE 0 END)"),
                         (*rs_table, "absent", "INDIRECT", "CONDITIONAL", None)],
         "overtime_hours": [(*rs_table, "overtimehours", "DIRECT", "AGGREGATION", "sum(overtimehours)")]},
        dataset=[(*employee, "EmployeeID", "INDIRECT", "JOIN", None),
                 (*rs_table, "employeeid", "INDIRECT", "JOIN", None),
                 (*employee, "EmployeeID", "INDIRECT", "GROUP_BY", None),
                 (*employee, "Name", "INDIRECT", "GROUP_BY", None)],
    )
    output = _ds(target, [("EmployeeID", "string"), ("Name", "string"), ("days_absent", "long"),
                          ("overtime_hours", "long")], lifecycleStateChange=build.lifecycle("OVERWRITE"))
    env = {"AWS_DEFAULT_REGION": REGION}
    return _spark_write(
        "spark_lineage", "spark_lineage.execute_insert_into_hadoop_fs_relation_command.emr_employee_absence_summary",
        day, [_ds(employee, [(c, "string") for c in EMPLOYEE_COLS]), _ds(rs_table, RS_EMPLOYEE + RS_ABSENT[4:])],
        output, lineage, env, 5,
    )


def sample_events() -> list[dict[str, Any]]:
    """Day 1: all four scenarios. Day 2: the Glue job runs again without the Salary column."""
    day1, day2 = "2024-06-01", "2024-06-02"
    events = glue_job(day1) + glue_notebook(day1) + redshift(day1) + emr(day1) + glue_job(day2, drop=("Salary",))
    return sorted((build.to_dict(e) for e in events), key=lambda e: e["eventTime"])
