-- The seed's RDS MySQL table (Step 3 of the seed), with all five sample employees.
USE employeedb;
CREATE TABLE employee (
  EmployeeID longtext, Name longtext, Department longtext, Role longtext, HireDate longtext,
  Salary longtext, PerformanceRating longtext, Shift longtext, Location longtext
);
INSERT INTO employee VALUES
('E1000', 'Employee_0', 'Quality Control', 'Operator', '2021-08-08', 33002.00, 1, 'Night', 'Plant C'),
('E1001', 'Employee_1', 'Maintenance', 'Supervisor', '2015-12-31', 69813.76, 5, 'Evening', 'Plant B'),
('E1002', 'Employee_2', 'Production', 'Technician', '2015-06-18', 46753.32, 1, 'Evening', 'Plant A'),
('E1003', 'Employee_3', 'Admin', 'Supervisor', '2020-10-13', 52853.4, 5, 'Night', 'Plant A'),
('E1004', 'Employee_4', 'Quality Control', 'Manager', '2023-09-21', 55645.27, 5, 'Evening', 'Plant A');
