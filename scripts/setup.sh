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
# The C parts of the ingest (src/lineagelab/store/_derive.c and _fast.c, src/lineagelab/events/_check.c) are built in
# place by the editable install: again when a source or a header it includes changed. Without a C compiler the package
# still works, with the slower Python paths.
suffix=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
headers="src/lineagelab/events/_formats.h src/lineagelab/events/_nodes.h"
for parts in "src/lineagelab/store/_derive.c src/lineagelab/store/_rows.h" "src/lineagelab/events/_check.c $headers" \
             "src/lineagelab/store/_fast.c $headers src/lineagelab/store/_rows.h third_party/yyjson/yyjson.c third_party/yyjson/yyjson.h"; do
  set -- $parts
  native=${1%.c}$suffix
  stale=0
  [ -f "$native" ] || stale=1
  for dep in "$@"; do [ "$dep" -nt "$native" ] && stale=1; done
  if [ "$stale" = 1 ]; then
    .venv/bin/python -m pip install --quiet --no-deps -e . >/tmp/lineagelab-native-build.log 2>&1 \
      || { cat /tmp/lineagelab-native-build.log; exit 1; }
    break
  fi
done

# The viewer's front end: built from ui/ with its lockfile into the package's static folder.
if [ -f ui/package.json ]; then
  ui_stamp=src/lineagelab/server/static/.built
  if [ ! -f "$ui_stamp" ] || [ -n "$(find ui/src ui/package.json ui/package-lock.json -newer "$ui_stamp" 2>/dev/null | head -1)" ]; then
    (cd ui && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent)
    touch "$ui_stamp"
  fi
fi
