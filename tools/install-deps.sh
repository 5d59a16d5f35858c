#!/bin/sh
# tools/install-deps.sh - installs the Debian packages the build and the
# tests need, and only those that are missing (nothing to do, nothing run).
#
# Installing postgresql-15 normally creates and starts a "main" cluster; the
# tests use their own throwaway cluster, so when postgresql-common is not
# installed yet we ask it not to create one (no server is left running).
set -eu

# postgresql-15 also brings pgbench (tests/pg/stress.sh); libpq-dev is for
# the cancel test's client (tests/pg/stress/cancel_test.c).  libopenblas-dev
# is for bench/sgemm.c only (the sgemm ceiling); nothing we ship links it.
PKGS="build-essential make libopenblas-dev postgresql-15 postgresql-server-dev-15 libpq-dev
sqlite3 libsqlite3-dev python3 python3-numpy python3-regex unicode-data
clang llvm libclang-rt-14-dev"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
        missing="$missing $p"
    fi
done
if [ -z "$missing" ]; then
    echo "install-deps: all packages present"
    exit 0
fi
echo "install-deps: installing:$missing"

SUDO=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install-deps: missing packages:$missing; run as root" >&2
        exit 1
    fi
fi

if ! dpkg-query -W -f='${Status}\n' postgresql-common 2>/dev/null | grep -q 'ok installed'; then
    $SUDO mkdir -p /etc/postgresql-common
    if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
        echo "create_main_cluster = false" | $SUDO tee /etc/postgresql-common/createcluster.conf >/dev/null
    fi
fi

$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update
# shellcheck disable=SC2086
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold $missing
