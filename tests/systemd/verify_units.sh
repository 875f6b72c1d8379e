#!/bin/sh
# Installs the build into a temporary DESTDIR (`cmake --install`) and runs
# `systemd-analyze verify` on the installed units, their ExecStart pointed
# into that DESTDIR so the installed binaries are what is checked. Fails on
# any complaint about the units, not only on errors. Exit 77 (skip) when
# systemd-analyze is not installed.
# Usage: verify_units.sh BUILD_DIR WORK_DIR
set -u
build=$1
work=$2
if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "SKIP: systemd-analyze is not installed (Debian package systemd)"
  exit 77
fi
rm -rf "$work"
mkdir -p "$work/dest" "$work/units"
if ! DESTDIR="$work/dest" cmake --install "$build" --prefix /usr/local >"$work/install.log" 2>&1; then
  echo "FAIL: cmake --install failed:"; cat "$work/install.log"; exit 1
fi
status=0
for want in usr/local/bin/orch-master usr/local/bin/orch-agent usr/local/bin/orchctl \
            etc/orch/master.conf etc/orch/agent.conf \
            usr/local/share/doc/orch/examples/master.conf; do
  if [ ! -e "$work/dest/$want" ]; then echo "FAIL: not installed: /$want"; status=1; fi
done
for unit in orch-master.service orch-agent.service; do
  src="$work/dest/usr/local/lib/systemd/system/$unit"
  if [ ! -f "$src" ]; then echo "FAIL: unit not installed: $src"; status=1; continue; fi
  for directive in Type=notify Restart=on-failure StateDirectory= "ExecStart=/usr/local/bin/" \
                   "--config /etc/orch/"; do
    grep -q -- "$directive" "$src" || { echo "FAIL: $unit lacks $directive"; status=1; }
  done
  sed "s|^ExecStart=/|ExecStart=$work/dest/|" "$src" >"$work/units/$unit"
  out=$(cd "$work/units" && systemd-analyze verify --man=no "./$unit" 2>&1)
  rc=$?
  if [ $rc -ne 0 ] || printf '%s' "$out" | grep -q "$unit"; then
    echo "FAIL: systemd-analyze verify $unit (exit $rc):"
    printf '%s\n' "$out"
    status=1
  else
    echo "ok: $unit verifies"
  fi
done
grep -q '^Delegate=yes' "$work/dest/usr/local/lib/systemd/system/orch-agent.service" ||
  { echo "FAIL: the agent unit lacks Delegate=yes"; status=1; }
exit $status
