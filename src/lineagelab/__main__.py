"""``python -m lineagelab`` runs the CLI."""

import sys

from lineagelab.ingest import early

early.start(sys.argv[1:])  # a large ingest's workers import while the CLI does
from lineagelab.cli import main  # noqa: E402

main()
