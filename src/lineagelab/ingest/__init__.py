"""Reading inputs, worker processes, and preparing batches of validated events and their facts for the store."""
