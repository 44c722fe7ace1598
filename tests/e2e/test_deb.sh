#!/usr/bin/env bash
# make deb: lintian finds no error; the package installs its files, starts
# and enables nothing, its unit passes systemd-analyze verify, and it
# removes and purges cleanly.
. "$(dirname "$0")/lib.sh"

debs=("$BUILD"/connctl_*.deb)
[ ${#debs[@]} -eq 1 ] && [ -f "${debs[0]}" ] || die "no single package in $BUILD: make deb"
deb=${debs[0]}
log "package: $(basename "$deb"), $(stat -c %s "$deb") bytes"
lint=$(lintian "$deb" 2>&1 | grep -v "running with root privileges" || true)
log "lintian: ${lint:-clean}"
! grep -q '^E:' <<<"$lint" || die "lintian errors: $lint"

if dpkg-query -W -f='${Status}' connctl 2>/dev/null | grep -q installed; then
	die "a connctl package is installed on this host already: not touching it"
fi
trap 'rc=$?; set +e; dpkg --purge connctl >/dev/null 2>&1; (exit $rc); cleanup' EXIT

dpkg -i "$deb" >"$TMP/dpkg.log" 2>&1 || die "dpkg -i: $(cat "$TMP/dpkg.log")"
for f in /usr/sbin/connctld /usr/sbin/connctl /usr/share/man/man8/connctld.8.gz \
	 /usr/share/man/man8/connctl.8.gz /usr/lib/systemd/system/connctld.service \
	 /usr/share/bash-completion/completions/connctl; do
	[ -f "$f" ] || die "$f is not installed"
done
[ -d /etc/connctl/rules.d ] || die "/etc/connctl/rules.d is missing"
expect_eq "$(/usr/sbin/connctld --version | cut -d' ' -f1)" connctld "the installed agent runs"
out=$(systemd-analyze verify --man=no /usr/lib/systemd/system/connctld.service 2>&1) ||
	die "systemd-analyze verify failed: $out"
expect_eq "$out" "" "systemd-analyze verify of the installed unit"
# Installed, not started, not enabled.
! pgrep -f '^/usr/sbin/connctld' >/dev/null || die "installing started connctld"
[ ! -e /etc/systemd/system/multi-user.target.wants/connctld.service ] ||
	die "installing enabled connctld"
log "ok: nothing started, nothing enabled"

dpkg -r connctl >"$TMP/dpkg.log" 2>&1 || die "dpkg -r: $(cat "$TMP/dpkg.log")"
for f in /usr/sbin/connctld /usr/lib/systemd/system/connctld.service; do
	[ ! -e "$f" ] || die "$f is left after dpkg -r"
done
dpkg --purge connctl >"$TMP/dpkg.log" 2>&1 || die "dpkg --purge: $(cat "$TMP/dpkg.log")"
dpkg-query -W connctl >/dev/null 2>&1 && die "the package is still known to dpkg"
log "ok: removed and purged"
