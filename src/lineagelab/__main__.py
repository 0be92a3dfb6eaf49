"""``python -m lineagelab`` and the ``lineagelab`` command: the CLI, after a large ingest's workers have started."""

import sys

from lineagelab.ingest import early


def main() -> None:
    early.start(sys.argv[1:])  # a large ingest's workers import while the CLI does
    from lineagelab.cli import main as cli

    cli()


if __name__ == "__main__":
    main()
