#!/usr/bin/env bash
# Set up, then run the seed's scenarios end to end and print the lineage graph.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/lineagelab demo "$@"
