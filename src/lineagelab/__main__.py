"""``python -m lineagelab`` runs the CLI."""

from lineagelab.cli import main

main()
