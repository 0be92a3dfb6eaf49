"""lineagelab.spark_local."""
