#!/usr/bin/env bash
# Install every Debian package connctl needs to build, run and test.
# Idempotent: when all are present it prints nothing and touches nothing.
set -euo pipefail

pkgs=(
	make gcc clang llvm libclang-rt-14-dev pkg-config
	libbpf-dev bpftool libelf-dev zlib1g-dev
	libjansson-dev libcmocka-dev
	iproute2 nftables nginx-light curl tcpdump python3 wrk procps util-linux
	python3-yaml systemd groff-base man-db
	skopeo umoci lintian dpkg-dev	# make image and make deb, checked by their tests
	prometheus	# promtool, to check the agent's /metrics
	# real clients for the drain tests and bench/drain_clients.sh
	golang-go apache2-utils nghttp2-client redis-server redis-tools
	python3-requests python3-urllib3
	# connected UDP: a DNS server and client, socat (tests/e2e/test_udp.sh)
	socat dnsmasq-base bind9-dnsutils
	hping3	# the SYN and stray-segment flood of bench/syn_flood.sh
)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing packages (${missing[*]}); run as root to install them" >&2
	exit 1
fi

# Installing nginx (or prometheus) must not start a server on this host: the
# tests start their own, in their own namespace, with their own config.
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	made_policy=1
fi
trap '[ $made_policy -eq 1 ] && rm -f "$policy"' EXIT

echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
