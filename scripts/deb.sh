#!/usr/bin/env bash
# make deb: a Debian package of connctl (the binaries, the man pages, the
# systemd unit, bash completion, an empty /etc/connctl/rules.d). Installing
# it starts nothing: the operator enables the service when the rules are
# ready. Depends are computed from the binaries (dpkg-shlibdeps).
#
# Usage: scripts/deb.sh BUILD_DIR VERSION
set -euo pipefail

build=$1 version=$2
top=$(cd "$(dirname "$0")/.." && pwd)
arch=$(dpkg --print-architecture)
work=$(mktemp -d "$build/deb-work.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
deb=$build/connctl_${version}_${arch}.deb

install -D -m 0755 "$build/connctld" "$root/usr/sbin/connctld"
install -D -m 0755 "$build/connctl" "$root/usr/sbin/connctl"
strip --remove-section=.comment --remove-section=.note "$root/usr/sbin/connctld" \
	"$root/usr/sbin/connctl"
for page in connctl connctld; do
	install -D -m 0644 "$top/man/$page.8" "$root/usr/share/man/man8/$page.8"
	gzip -9n "$root/usr/share/man/man8/$page.8"
done
install -d -m 0755 "$root/usr/lib/systemd/system"
sed 's|/usr/local/sbin/|/usr/sbin/|; s|`make install` puts it in /etc/systemd/system|the package puts it in /usr/lib/systemd/system|' \
	"$top/scripts/connctld.service" >"$root/usr/lib/systemd/system/connctld.service"
chmod 0644 "$root/usr/lib/systemd/system/connctld.service"
install -D -m 0644 "$top/scripts/connctl.bash" \
	"$root/usr/share/bash-completion/completions/connctl"
install -d -m 0755 "$root/etc/connctl/rules.d"

doc=$root/usr/share/doc/connctl
install -d -m 0755 "$doc"
cat >"$doc/copyright" <<COPY
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: connctl

Files: *
Copyright: 2025-2026 the connctl developers
License: GPL-2
 On Debian systems, the complete text of the GNU General Public License
 version 2 can be found in /usr/share/common-licenses/GPL-2.
COPY
cat >"$work/changelog" <<LOG
connctl ($version) unstable; urgency=medium

  * Built from the connctl tree with make deb.

 -- connctl developers <developers@connctl.example.org>  $(date -R -d @0)
LOG
# A native package: its changelog is changelog.gz.
gzip -9n -c "$work/changelog" >"$doc/changelog.gz"
chmod 0644 "$doc/copyright" "$doc/changelog.gz"

# What the binaries link against, as Debian names it.
mkdir -p "$work/debian"
printf 'Source: connctl\n\nPackage: connctl\nArchitecture: any\n' >"$work/debian/control"
depends=$(cd "$work" && dpkg-shlibdeps -O root/usr/sbin/connctld root/usr/sbin/connctl \
	2>/dev/null | sed -n 's/^shlibs:Depends=//p')

install -d -m 0755 "$root/DEBIAN"
cat >"$root/DEBIAN/control" <<CTRL
Package: connctl
Version: $version
Architecture: $arch
Maintainer: connctl developers <developers@connctl.example.org>
Depends: $depends
Section: net
Priority: optional
Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)
Homepage: https://connctl.example.org/
Description: close TCP connections by policy, with eBPF
 connctld is a node agent that closes TCP connections matching rules:
 gracefully after the response in flight (drain), at once with an RST
 (reset), or by waking the owner's pending I/O (cancel), without a proxy
 and without touching the application. connctl is its command line.
 .
 The service is installed but neither enabled nor started.
CTRL
# The unit is known to systemd at once, and nothing is started: rules
# first, then `systemctl enable --now connctld`.
cat >"$root/DEBIAN/postinst" <<'SH'
#!/bin/sh
set -e
if [ "$1" = configure ] && [ -d /run/systemd/system ]; then
	systemctl --system daemon-reload >/dev/null || true
fi
exit 0
SH
cat >"$root/DEBIAN/prerm" <<'SH'
#!/bin/sh
set -e
# Stopping keeps the pinned rules in force; `connctld --uninstall` ends them.
if [ "$1" = remove ] && [ -d /run/systemd/system ] && command -v deb-systemd-invoke >/dev/null; then
	deb-systemd-invoke stop connctld.service >/dev/null || true
fi
exit 0
SH
cat >"$root/DEBIAN/postrm" <<'SH'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
	systemctl --system daemon-reload >/dev/null || true
fi
if [ "$1" = purge ]; then
	rm -rf /var/lib/connctl
fi
exit 0
SH
chmod 0755 "$root/DEBIAN/postinst" "$root/DEBIAN/prerm" "$root/DEBIAN/postrm"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
