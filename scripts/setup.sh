#!/usr/bin/env bash
# Idempotent setup for a fresh machine: system packages (JDBC drivers, Chromium), a project venv with lineagelab and
# its dev tools, and the viewer's built assets.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
"$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "lineagelab needs Python >= 3.11")'

# Debian packages: the JDBC drivers local Spark loads, and Chromium for the viewer's browser tests.
need=()
[ -f /usr/share/java/mariadb-java-client.jar ] || need+=(libmariadb-java)
[ -f /usr/share/java/postgresql.jar ] || need+=(libpostgresql-jdbc-java)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    echo "setup: installing Debian packages: ${need[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "setup: missing ${need[*]} (install them with your package manager)" >&2
  fi
fi

if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.lineagelab-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".[dev]"
  touch "$stamp"
fi
# The viewer's front end: built from ui/ with its lockfile into the package's static folder.
if [ -f ui/package.json ]; then
  ui_stamp=src/lineagelab/server/static/.built
  if [ ! -f "$ui_stamp" ] || [ -n "$(find ui/src ui/package.json ui/package-lock.json -newer "$ui_stamp" 2>/dev/null | head -1)" ]; then
    (cd ui && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent)
    touch "$ui_stamp"
  fi
fi
