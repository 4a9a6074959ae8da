#!/usr/bin/env bash
# Builds the .deb from a configured build directory and checks it:
#   - `cpack -G DEB` succeeds (the hookd target is built first);
#   - `dpkg-deb -c` lists the expected files, `dpkg-deb -I` the expected control data (library
#     dependencies from dpkg-shlibdeps, the conffile, maintainer scripts that enable nothing);
#   - the package extracts with `dpkg -x` into a temporary root and <root>/usr/bin/hookd runs.
#
# usage: packaging/check-deb.sh BUILD_DIR [OUTPUT_DIR]
#
# BUILD_DIR must be configured with cmake/install.cmake included (it writes CPackConfig.cmake).
# The .deb is left in OUTPUT_DIR (default BUILD_DIR/packages).
set -euo pipefail

build=${1:?usage: check-deb.sh BUILD_DIR [OUTPUT_DIR]}
build=$(cd "$build" && pwd)
out=${2:-$build/packages}
mkdir -p "$out"
out=$(cd "$out" && pwd)  # absolute: cpack runs from inside the build directory

fail() {
  echo "check-deb: $*" >&2
  exit 1
}

[ -f "$build/CPackConfig.cmake" ] ||
  fail "$build/CPackConfig.cmake missing: configure with cmake/install.cmake included"
for tool in cpack dpkg-deb dpkg dpkg-shlibdeps; do
  command -v "$tool" >/dev/null || fail "$tool not found"
done

cmake --build "$build" --target hookd hookd_manpage >/dev/null
mkdir -p "$out"
rm -f "$out"/hookd_*.deb
(cd "$build" && cpack -G DEB -B "$out" >"$out/cpack.log" 2>&1) || {
  cat "$out/cpack.log" >&2
  fail "cpack -G DEB failed"
}
deb=$(find "$out" -maxdepth 1 -name 'hookd_*.deb' | head -n 1)
[ -n "$deb" ] || fail "no hookd_*.deb in $out"
echo "check-deb: built $deb"

# The file list: "./usr/bin/hookd" style paths, directories with a trailing slash.
contents=$(dpkg-deb -c "$deb" | awk '{ print $6 }')
status=0
for expected in \
  ./usr/bin/hookd \
  ./usr/share/man/man1/hookd.1.gz \
  ./usr/lib/systemd/system/hookd.service \
  ./usr/lib/systemd/system/hookd.socket \
  ./usr/lib/sysusers.d/hookd.conf \
  ./etc/hookd/hookd.yaml \
  ./etc/logrotate.d/hookd \
  ./usr/share/doc/hookd/operations.md \
  ./usr/share/doc/hookd/configuration.md \
  ./usr/share/doc/hookd/copyright \
  ./usr/share/doc/hookd/hookd.yaml.example; do
  if ! grep -qxF "$expected" <<<"$contents"; then
    echo "check-deb: missing from the package: $expected" >&2
    status=1
  fi
done
# Nothing outside the FHS places the package is meant to touch.
unexpected=$(grep -vE '^\./(|etc/|etc/hookd/.*|etc/logrotate\.d/.*|usr/|usr/bin/.*|usr/lib/|usr/lib/systemd/.*|usr/lib/sysusers\.d/.*|usr/share/|usr/share/doc/.*|usr/share/man/.*)$' <<<"$contents" || true)
if [ -n "$unexpected" ]; then
  echo "check-deb: unexpected paths in the package:" >&2
  echo "$unexpected" >&2
  status=1
fi

# Control data.
field() { dpkg-deb -f "$deb" "$1"; }
root=
control=
trap 'rm -rf "$control" "$root"' EXIT
[ "$(field Package)" = hookd ] || { echo "check-deb: Package is not hookd" >&2; status=1; }
depends=$(field Depends)
# dpkg-shlibdeps ran: every library hookd links to appears as its package.
root=$(mktemp -d)
dpkg -x "$deb" "$root"
needed=$(readelf -d "$root/usr/bin/hookd" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p')
expect_libs="libc6 libstdc++6"
grep -q '^libssl' <<<"$needed" && expect_libs="$expect_libs libssl3"
grep -q '^libsqlite3' <<<"$needed" && expect_libs="$expect_libs libsqlite3-0"
grep -q '^libsystemd' <<<"$needed" && expect_libs="$expect_libs libsystemd0"
for lib in $expect_libs; do
  grep -q "$lib" <<<"$depends" || { echo "check-deb: Depends lacks $lib: $depends" >&2; status=1; }
done
control=$(mktemp -d)
dpkg-deb -e "$deb" "$control"
for conffile in /etc/hookd/hookd.yaml /etc/logrotate.d/hookd; do
  grep -qxF "$conffile" "$control/conffiles" ||
    { echo "check-deb: $conffile is not a conffile" >&2; status=1; }
done
# The description: a synopsis line, then the long text, each of its lines indented by one space,
# and the synopsis not repeated as the first line of the long text.
description=$(field Description)
synopsis=$(head -n 1 <<<"$description")
long=$(tail -n +2 <<<"$description")
if [ -z "$synopsis" ] || [ -z "$long" ] || grep -qvE '^ [^ ]' <<<"$long" ||
  [ "$(head -n 1 <<<"$long" | sed 's/^ //')" = "$synopsis" ]; then
  echo "check-deb: malformed Description:" >&2
  echo "$description" >&2
  status=1
fi
for script in postinst prerm postrm; do
  [ -x "$control/$script" ] || { echo "check-deb: no executable $script" >&2; status=1; }
done
# "Enables nothing by surprise": no maintainer script enables or starts a unit.
if grep -nE 'systemctl[^#]*\b(enable|start|--now)\b|deb-systemd-helper[^#]*enable' \
  "$control"/postinst "$control"/prerm "$control"/postrm; then
  echo "check-deb: a maintainer script enables or starts a unit" >&2
  status=1
fi

echo "check-deb: Depends: $depends"

# Run the binary from the temporary root it was extracted into.
version_out=$("$root/usr/bin/hookd" version) || { echo "check-deb: hookd version failed" >&2; status=1; }
if [ "$version_out" != "hookd $(field Version)" ]; then
  echo "check-deb: 'hookd version' says '$version_out', the package is $(field Version)" >&2
  status=1
fi
[ "$(stat -c %a "$root/etc/hookd/hookd.yaml")" = 640 ] ||
  { echo "check-deb: /etc/hookd/hookd.yaml is not mode 0640" >&2; status=1; }

[ $status -eq 0 ] && echo "check-deb: $(basename "$deb") ok ($version_out)"
exit $status
