#!/usr/bin/env bash
# Runs Kamailio's own unit-test suite (kamailio/kamailio-tests, fetched separately: it is never part of
# this repository) against Kamailio 5.6 (Debian's package) and against kampy, side by side, and writes
# a table of units and results.
#
#   scripts/kamailio-tests.sh [SUITE_DIR] [UNIT_FILTER...]
#
# Environment:
#   KAMAILIO_TESTS  the suite's checkout (or the first argument)
#   SIPSAK          a sipsak binary built from sipsak's git tree (Debian's 0.9.8.1 crashes in -M/-B
#                   mode, which five units use); default: `sipsak` on PATH
#   KAMPY           the kampy program (default: .venv/bin/kampy, else `kampy` on PATH)
#   ENGINES         "kamailio kampy" (default) or one of them
#   KTESTS_OUT      where logs and the table go (default /var/tmp/kampy-kamailio-tests)
#   UNIT_TIMEOUT    seconds a unit may run (default 300)
#
# Each unit runs in its own network, PID and mount namespace (unshare): its port 5060, its
# `killall kamailio` and its files in /tmp and /run touch nothing else on the machine. Inside it the
# suite is bind-mounted at /usr/local/src/kamailio-tests (a unit's cfg names that path), a private
# /tmp and /run are mounted, and /run/mysqld holds the socket of a MariaDB server this script starts
# for the run (its own data directory, no TCP port), with the tables `kamdbctl create` makes.
# Needs root (namespaces, mounts), Debian's kamailio, kamctl, kamdbctl, mariadb-server, sipp,
# netcat-traditional, lua-cjson, psmisc (killall).
set -uo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
suite="${KAMAILIO_TESTS:-}"
if [ $# -gt 0 ] && [ -d "$1" ]; then suite="$1"; shift; fi
filters=("$@")
if [ -z "$suite" ] || [ ! -x "$suite/ktestsctl" ] || [ ! -d "$suite/units" ]; then
  echo "kamailio-tests: the suite is not here${suite:+ ($suite)}." >&2
  echo "Fetch kamailio/kamailio-tests and give its path: KAMAILIO_TESTS=DIR $0, or $0 DIR" >&2
  exit 2
fi
suite="$(cd "$suite" && pwd)"
[ "$(id -u)" -eq 0 ] || { echo "kamailio-tests: needs root (namespaces and mounts)" >&2; exit 2; }

engines="${ENGINES:-kamailio kampy}"
out="${KTESTS_OUT:-/var/tmp/kampy-kamailio-tests}"
unit_timeout="${UNIT_TIMEOUT:-300}"
kampy="${KAMPY:-}"
if [ -z "$kampy" ]; then
  if [ -x "$here/.venv/bin/kampy" ]; then kampy="$here/.venv/bin/kampy"; else kampy="$(command -v kampy)"; fi
fi
sipsak="${SIPSAK:-$(command -v sipsak)}"
for tool in unshare openssl kamailio kamctl kamdbctl mariadbd mariadb-install-db sipsak nc killall; do
  command -v "$tool" >/dev/null || [ "$tool" = sipsak ] || { echo "kamailio-tests: $tool is missing" >&2; exit 2; }
done
[ -x "$sipsak" ] || { echo "kamailio-tests: no sipsak (set SIPSAK)" >&2; exit 2; }
case " $engines " in *" kampy "*) [ -x "$kampy" ] || { echo "kamailio-tests: no kampy (set KAMPY)" >&2; exit 2; } ;; esac
if "$sipsak" -V 2>&1 | grep -q "0.9.8"; then
  echo "kamailio-tests: warning: $sipsak is sipsak 0.9.8, which crashes in -M/-B mode (set SIPSAK)" >&2
fi

rm -rf "$out"
mkdir -p "$out/bin" "$out/mysql/run" "$out/mysql/tmp"
cp "$sipsak" "$out/bin/sipsak"

# Why a unit cannot pass on either server here, whatever the server does.
declare -A pending=(
  [tauthx0002]="pending KEMI work: the routing is a KEMI Lua script (app_lua, auth_xkeys)"
  [tregxx0002]="pending KEMI work: the routing is a KEMI Lua script (app_lua, kemix)"
  [tsjlua0001]="pending KEMI work: the routing is a KEMI Lua script (app_lua, sipjson)"
  [tgeoip0001]="needs a download: the MaxMind GeoLite2 City database"
)

# Why Kamailio 5.6 fails a unit that it runs (shown when it does).
declare -A known=(
  [ttlsxx0002]="tls.cfg's certificate2/private_key2 (dual certificates) are newer than Kamailio 5.6"
  [ttlsxx0003]="tls_connection_match_domain is newer than Kamailio 5.6"
  [tcfgxx0001]="a race in the unit: each start follows the previous instance's SIGTERM at once, and Kamailio refuses to start while the pid file's process still runs"
)

# --- the database: one private MariaDB for the run, reached through /run/mysqld in each namespace
db_pid=""
stop_db() { [ -n "$db_pid" ] && kill "$db_pid" 2>/dev/null && wait "$db_pid" 2>/dev/null; db_pid=""; }
trap stop_db EXIT
start_db() {
  mariadb-install-db --no-defaults --datadir="$out/mysql/data" --tmpdir="$out/mysql/tmp" --user=root \
    --auth-root-authentication-method=normal --skip-test-db >"$out/mysql/install.log" 2>&1 || {
      echo "kamailio-tests: mariadb-install-db failed, see $out/mysql/install.log" >&2; exit 1; }
  mariadbd --no-defaults --datadir="$out/mysql/data" --skip-networking --user=root \
    --socket="$out/mysql/run/mysqld.sock" --pid-file="$out/mysql/run/mysqld.pid" --skip-log-bin \
    --tmpdir="$out/mysql/tmp" --innodb-buffer-pool-size=64M --innodb-flush-log-at-trx-commit=2 \
    --log-error="$out/mysql/error.log" 2>>"$out/mysql/error.log" &
  db_pid=$!
  for _ in $(seq 100); do
    mariadb --no-defaults -S "$out/mysql/run/mysqld.sock" -uroot -e "select 1" >/dev/null 2>&1 && break
    sleep 0.2
  done
  mariadb --no-defaults -S "$out/mysql/run/mysqld.sock" -uroot \
    -e "ALTER USER 'root'@'localhost' IDENTIFIED BY 'ktestsrootpw'" || exit 1
}

# The environment of the suite's Docker image (Debian paths instead of /usr/local).
unit_env() {
  local engine="$1"
  echo "export DBENGINE=MYSQL DBRWPW=kamailiorw DBROOTPW=ktestsrootpw DBHOST=localhost"
  echo "export KAMCTL=/usr/sbin/kamctl KAMCFG=/etc/kamailio/kamailio.cfg"
  echo "export KAMRUN=/var/run/kamailio KAMPID=/var/run/kamailio/kamailio.pid"
  echo "export PATH='$out/bin-$engine':\$PATH HOME='$out/home'"
  if [ "$engine" = kampy ]; then echo "export KAMBIN='$out/bin-kampy/kamailio'"
  else echo "export KAMBIN=/usr/sbin/kamailio"; fi
}

# Runs "$@" (a shell script text) inside fresh namespaces with the mounts described above.
in_namespace() {
  local engine="$1" tmpdir="$2" script="$3"
  unshare --net --pid --fork --mount-proc --mount --propagation private bash -c "
    set -e
    ip link set lo up
    mount --bind '$tmpdir' /tmp
    mount -t tmpfs tmpfs /run
    mkdir -p /run/mysqld /run/kamailio
    mount --bind '$out/mysql/run' /run/mysqld
    mount --bind '$out/etc-kamailio' /etc/kamailio
    mount -t tmpfs tmpfs /usr/local/src
    mkdir -p /usr/local/src/kamailio-tests
    mount --bind '$out/suite-$engine' /usr/local/src/kamailio-tests
    $(unit_env "$engine")
    set +e
    $script"
}

make_database() {
  local engine="$1"
  mkdir -p "$out/$engine/tmp-db"
  in_namespace "$engine" "$out/$engine/tmp-db" "
    # the users the previous engine's kamdbctl made too: its CREATE USER fails on them
    mariadb -uroot -pktestsrootpw -e \"DROP DATABASE IF EXISTS kamailio;
      DROP USER IF EXISTS 'kamailio'@'localhost', 'kamailioro'@'localhost'\" >/dev/null 2>&1
    INSTALL_EXTRA_TABLES=yes INSTALL_PRESENCE_TABLES=yes INSTALL_DBUID_TABLES=yes CHARSET=latin1 \
      kamdbctl create </dev/null" >"$out/$engine/kamdbctl.log" 2>&1 || {
    echo "kamailio-tests: kamdbctl create failed, see $out/$engine/kamdbctl.log" >&2; exit 1; }
}

run_unit() {
  local engine="$1" unit="$2" tmpdir="$out/$engine/tmp/$2"
  mkdir -p "$tmpdir"
  in_namespace "$engine" "$tmpdir" "
    cd /usr/local/src/kamailio-tests/units/$unit
    timeout -k 10 $unit_timeout ./$unit.sh" >"$out/$engine/$unit.log" 2>&1 </dev/null
}

# --- the run
# Debian's /etc/kamailio and the self-signed certificate its tls.cfg names (the suite's image makes
# it with `make install-tls-cert`)
cp -a /etc/kamailio "$out/etc-kamailio"
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=localhost/O=kamailio-tests" \
  -keyout "$out/etc-kamailio/kamailio-selfsigned.key" -out "$out/etc-kamailio/kamailio-selfsigned.pem" \
  >/dev/null 2>&1
mkdir -p "$out/home"
mkdir -p "$out/bin-kamailio" "$out/bin-kampy"
ln -sf "$out/bin/sipsak" "$out/bin-kamailio/sipsak"
ln -sf "$out/bin/sipsak" "$out/bin-kampy/sipsak"
# `kamailio` on PATH inside a kampy namespace is kampy, as KAMBIN is
printf '#!/bin/sh\nexec %q "$@"\n' "$kampy" >"$out/bin-kampy/kamailio"
chmod +x "$out/bin-kampy/kamailio"
# A unit gives the server one second (`sleep 1`) before it sends. An installed kampy has its
# bytecode (pip compiles it at install); an editable checkout run with PYTHONDONTWRITEBYTECODE set
# has none, and compiling kampy's sources at each start takes about 0.6 s on a 2-core machine.
kampy_python="$(sed -n '1s/^#! *//p' "$kampy" 2>/dev/null)"
case " $engines " in *" kampy "*)
  if [ -x "$kampy_python" ]; then
    env -u PYTHONDONTWRITEBYTECODE "$kampy_python" -c '
import compileall, os, kampy, modules
for package in (kampy, modules):
    compileall.compile_dir(os.path.dirname(package.__file__), quiet=1, workers=0)' \
      || echo "kamailio-tests: warning: could not compile kampy's bytecode" >&2
  fi ;;
esac

# A unit loading a module that Debian's Kamailio 5.6 packages lack cannot pass on Kamailio here.
modules_dir="$(dirname "$(find /usr/lib/*/kamailio/modules -name tm.so 2>/dev/null | head -1)")"
missing_modules() {
  local m missing=()
  for m in $(grep -ho 'loadmodule *"[^"]*"' "$1"/*.cfg 2>/dev/null | sed 's/.*"\(.*\)"/\1/; s/\.so$//' | sort -u); do
    [ -f "$modules_dir/$m.so" ] || missing+=("$m")
  done
  if [ ${#missing[@]} -gt 5 ]; then echo "${#missing[@]} modules, e.g. ${missing[*]:0:5}"
  else echo "${missing[*]}"; fi
}

units=()
for dir in "$suite"/units/t*/; do
  unit="$(basename "$dir")"
  [ -x "$dir/$unit.sh" ] || continue
  if [ ${#filters[@]} -gt 0 ]; then
    keep=""
    for f in "${filters[@]}"; do case "$unit" in "$f"*) keep=1 ;; esac; done
    [ -n "$keep" ] || continue
  fi
  units+=("$unit")
  if [ -z "${pending[$unit]:-}" ]; then
    lacking="$(missing_modules "$dir")"
    [ -z "$lacking" ] || pending[$unit]="Kamailio 5.6 (Debian's packages) has no module: $lacking"
  fi
done

start_db
declare -A result
for engine in $engines; do
  mkdir -p "$out/$engine/tmp"
  cp -a "$suite" "$out/suite-$engine"
  make_database "$engine"
  for unit in "${units[@]}"; do
    if [ -n "${pending[$unit]:-}" ]; then result[$engine/$unit]="not run"; continue; fi
    start=$SECONDS
    if ! run_unit "$engine" "$unit"; then result[$engine/$unit]="FAILED"
    elif [ "$unit" != tcfgxx0003 ] && grep -qs "bad config file" "$out/$engine/$unit.log" "$out/$engine/tmp/$unit"/*.log; then
      # the unit's grep found its text in the excerpt of a refused config line, not in a log line
      result[$engine/$unit]="FAILED (config refused)"
    else result[$engine/$unit]="ok"; fi
    printf '%-8s %-12s %-7s %3ss\n' "$engine" "$unit" "${result[$engine/$unit]}" $((SECONDS - start))
  done
done
stop_db

table="$out/results.md"
{
  echo "Kamailio's unit tests ($(date -u +%Y-%m-%d)), $("$kampy" -v 2>/dev/null | head -1 | sed 's/^version: //')"
  echo
  echo "| unit | what it checks | Kamailio 5.6 | kampy | note |"
  echo "| --- | --- | --- | --- | --- |"
  for unit in "${units[@]}"; do
    summary="$(grep -h '^Summary: ' "$suite/units/$unit/README.md" 2>/dev/null | cut -c10-)"
    note="${pending[$unit]:-}"
    k="${result[kamailio/$unit]:--}"
    p="${result[kampy/$unit]:--}"
    if [ -z "$note" ] && [ "$k" = FAILED ]; then note="Kamailio 5.6 fails it too${known[$unit]:+: ${known[$unit]}}"; fi
    echo "| $unit | $summary | $k | $p | $note |"
  done
} >"$table"
cat "$table"
echo
echo "logs: $out/<engine>/<unit>.log, the units' /tmp in $out/<engine>/tmp/<unit>/"
