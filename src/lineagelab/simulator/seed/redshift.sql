-- Create tables
CREATE TABLE public.absent (
    employeeid VARCHAR(65535),
    date DATE,
    shiftstart TIMESTAMP,
    shiftend TIMESTAMP,
    absent BOOLEAN,
    overtimehours INTEGER
);

CREATE TABLE public.employee (
    employeeid VARCHAR(65535),
    name VARCHAR(65535),
    department VARCHAR(65535),
    role VARCHAR(65535),
    hiredate DATE,
    salary DOUBLE PRECISION,
    performancerating INTEGER,
    shift VARCHAR(65535),
    location VARCHAR(65535)
);

-- Load data from S3
COPY absent FROM 's3://datazone-{account_id}/csv/attendance.csv' 
IAM_ROLE 'arn:aws:iam::{account_id}:role/RedshiftAdmin'
CSV IGNOREHEADER 1;

COPY employee FROM 's3://datazone-{account_id}/csv/employees.csv' 
IAM_ROLE 'arn:aws:iam::{account_id}:role/RedshiftAdmin'
CSV IGNOREHEADER 1;

-- Create joined table with CTAS
CREATE TABLE public.employeewithabsent AS
SELECT e.*, a.absent, a.overtimehours
FROM public.employee e
INNER JOIN public.absent a ON e.EmployeeID = a.EmployeeID;
