#!/usr/bin/env bash
# Checks the systemd units in packaging/systemd/:
#   1. `systemd-analyze verify` on hookd.service and hookd.socket;
#   2. `systemd-analyze security --offline=yes` on hookd.service: fails if the exposure is above
#      MAX_EXPOSURE (default 2.0).
#
# usage: packaging/check-units.sh [HOOKD_BINARY]
#
# `verify` insists that every Exec*= binary exists and is executable. The units name
# /usr/bin/hookd, which exists only once the package is installed, so the units are checked from
# a temporary copy in which /usr/bin/hookd is replaced by HOOKD_BINARY (argument or environment;
# default: build/src/cli/hookd when it exists, else a stub script). Nothing else is changed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
units="$here/systemd"
max_exposure=${MAX_EXPOSURE:-2.0}

command -v systemd-analyze >/dev/null || {
  echo "check-units: systemd-analyze not found (apt-get install systemd)" >&2
  exit 1
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

binary=${1:-${HOOKD_BINARY:-}}
if [ -z "$binary" ]; then
  if [ -x "$root/build/src/cli/hookd" ]; then
    binary="$root/build/src/cli/hookd"
  else
    binary="$tmp/hookd-stub"
    printf '#!/bin/sh\nexit 0\n' >"$binary"
    chmod +x "$binary"
  fi
fi
[ -x "$binary" ] || {
  echo "check-units: $binary is not an executable" >&2
  exit 1
}
binary=$(cd "$(dirname "$binary")" && pwd)/$(basename "$binary")

mkdir "$tmp/units"
for unit in hookd.service hookd.socket; do
  sed "s#/usr/bin/hookd#$binary#g" "$units/$unit" >"$tmp/units/$unit"
done

status=0

# verify prints problems (unknown keys, bad values, missing binaries) on stderr and sets its exit
# code only for some of them: treat any output as a failure too.
if ! out=$(cd "$tmp/units" && systemd-analyze verify ./hookd.service ./hookd.socket 2>&1) ||
  [ -n "$out" ]; then
  echo "check-units: systemd-analyze verify failed:" >&2
  echo "$out" >&2
  status=1
else
  echo "check-units: verify: hookd.service hookd.socket ok"
fi

# The security score is computed from the unit file alone (--offline), from the real unit (the
# binary path does not change the score).
report=$(systemd-analyze security --offline=yes "$units/hookd.service" 2>&1) || true
exposure=$(printf '%s\n' "$report" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
if [ -z "$exposure" ]; then
  echo "check-units: no exposure level in the output of systemd-analyze security:" >&2
  echo "$report" >&2
  status=1
elif awk -v e="$exposure" -v m="$max_exposure" 'BEGIN { exit !(e > m) }'; then
  echo "check-units: hookd.service exposure $exposure is above $max_exposure:" >&2
  printf '%s\n' "$report" | grep '✗' >&2 || true
  status=1
else
  echo "check-units: security: hookd.service exposure $exposure (max $max_exposure) ok"
fi

exit $status
