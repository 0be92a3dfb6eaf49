"""lineagelab.aws_targets."""
