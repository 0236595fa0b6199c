#!/usr/bin/env bash
# Installs what the test suite needs on a Debian machine (when missing) and runs the whole suite.
# The suite starts and stops its own MariaDB on a private port and data directory.
set -euo pipefail
cd "$(dirname "$0")/.."

debs=(mariadb-server mariadb-client sip-tester kamailio kamailio-mysql-modules kamailio-sqlite-modules
      kamailio-presence-modules kamailio-outbound-modules kamailio-phonenum-modules kamailio-utils-modules
      kamcli
      kamailio-postgres-modules kamailio-tls-modules sqlite3 openssl iproute2 util-linux
      rtpengine-daemon nftables)
missing=()
for pkg in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# A private virtual environment keeps the suite's install from touching the system's Python.
venv=.venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip setuptools wheel
"$venv/bin/python" -m pip install -q --disable-pip-version-check -e '.[test]'
export PATH="$PWD/$venv/bin:$PATH"
# Two pytest workers (pytest-xdist), each taking whole files: the suite mostly waits on servers and
# timers (it used under 30 % of two cores serially). KAMPY_TEST_WORKERS=0 runs it in one process.
workers="${KAMPY_TEST_WORKERS:-2}"
parallel=()
[ "$workers" = 0 ] || parallel=(-n "$workers" --dist loadfile)
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider "${parallel[@]}" "$@"
