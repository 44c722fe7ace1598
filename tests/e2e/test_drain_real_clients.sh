#!/usr/bin/env bash
# drain with the default settings, against clients no one here wrote: python
# requests and urllib3, Go net/http (4 keep-alive connections each) and curl,
# fetching 16 KiB from nginx again and again.
#
# Busy (the next request leaves as soon as an answer arrives), with answers
# of one segment (loopback's MTU), so each ACK rides on the next request:
# every connection is closed with a FIN within 1 s of the rule, none reset;
# clients that retry a reused connection (urllib3, Go, curl) see no error,
# requests at most one per connection. Thinking 0-50 ms, over a 1500-byte
# MTU: at most 10 % of the connections meet the FIN with a request, and no
# client sees an error. Either way, every request nginx served was answered.
. "$(dirname "$0")/lib.sh"

setup_env
NGINX_ACCESS_LOG="$TMP/access.log" start_nginx 8080
start_agent
URL=http://127.0.0.1:8080/small

# scenario NAME THINK_SECONDS_MAX: four clients for 5 s, the rule 0.5 s after
# nginx has served each of them (python starts slower than Go and curl: a
# rule timed from one client's start met the others at their end).
scenario() {
	local name=$1 think=$2 pids=() p agents="python-requests python-urllib3 Go-http-client"
	[ "$think" != 0 ] || agents="$agents curl"
	cat >"$TMP/rule.sh" <<RULE
for i in \$(seq 100); do
	served=0
	for a in $agents; do grep -q "\$a/" "$TMP/access.log" && served=\$((served + 1)); done
	[ \$served = $(wc -w <<<"$agents") ] && break
	sleep 0.1
done
sleep 0.5
date +%s.%N >"$TMP/$name-rule-time"
"$CONNCTL_BIN" --socket "$SOCK" -j rule add action drain lport 8080 once
RULE
	: >"$TMP/access.log"
	start_capture "tcp port 8080"
	in_ns python3 "$TOP/tests/e2e/real_clients.py" requests --url "$URL" --workers 4 \
		--seconds 5 --length 16384 --think-max "$think" -- bash "$TMP/rule.sh" \
		>"$TMP/$name-requests.json" &
	pids+=($!)
	in_ns python3 "$TOP/tests/e2e/real_clients.py" urllib3 --url "$URL" --workers 4 \
		--seconds 5 --length 16384 --think-max "$think" >"$TMP/$name-urllib3.json" &
	pids+=($!)
	in_ns "$GOCLIENT" -url "$URL" -workers 4 -seconds 5 -length 16384 \
		-think-max "${think}s" >"$TMP/$name-go.json" &
	pids+=($!)
	# curl has no think time: busy only, 5 s worth of URLs on one connection.
	if [ "$think" = 0 ]; then
		in_ns timeout 5 curl -s -o /dev/null -w '%{http_code} %{size_download} %{errormsg}\n' \
			"$URL?[1-100000]" >"$TMP/$name-curl.txt" &
		pids+=($!)
	fi
	for p in "${pids[@]}"; do
		wait "$p" || true
	done
	stop_capture
	cp "$TMP/cap.pcap" "$TMP/$name.pcap"
	log "$name: $(cat "$TMP/$name-requests.json")"
	log "$name: $(cat "$TMP/$name-urllib3.json" "$TMP/$name-go.json")"
	ends=$(python3 "$TOP/tests/e2e/pcap_ends.py" "$TMP/$name.pcap" 8080 \
		--since "$(cat "$TMP/$name-rule-time")")
	log "$name: $ends"
	matched=$(jget "$(cat "$TMP/$name-requests.json")" 'json.loads(d["cmd"]["stdout"])["matched"]')
	answered=$(python3 - "$TMP" "$name" <<'PY'
import json, sys
tmp, name = sys.argv[1], sys.argv[2]
n = sum(json.load(open(f"{tmp}/{name}-{c}.json"))["ok"] for c in ("requests", "urllib3", "go"))
print(n)
PY
)
	# curl is stopped mid-request by timeout: its requests are left out.
	expect_eq "$(grep -vc ' "curl/' "$TMP/access.log")" "$answered" \
		"$name: requests nginx served = answers the clients received"
}

client_errors() {	# client_errors NAME CLIENT: errors of every kind, and truncations
	jget "$(cat "$TMP/$1-$2.json")" 'sum(d["errors"].values()) + d["truncated"]'
}

# every_one_closed NAME: each matched connection closed with a FIN, the last
# within 1 s of the rule, none reset.
every_one_closed() {
	expect_eq "$(jget "$ends" 'd["ends"]["fin"] >= '"$matched")" True \
		"$1: every matched connection ($matched) closed with a FIN"
	expect_eq "$(jget "$ends" 'sorted(d["end_ms"])['"$matched"' - 1] <= 1000')" True \
		"$1: the last within 1 s of the rule"
	expect_eq "$(jget "$ends" 'd["rst_seen"]')" 0 "$1: connections reset"
}

scenario busy 0
every_one_closed busy
expect_eq "$(client_errors busy urllib3)" 0 "busy: urllib3 errors"
expect_eq "$(client_errors busy go)" 0 "busy: Go net/http errors"
# The last line may be cut short where timeout stopped curl: whole lines only.
grep -E '^[0-9]{3} [0-9]+ ' "$TMP/busy-curl.txt" >"$TMP/busy-curl-whole.txt" || true
log "busy: curl: $(wc -l <"$TMP/busy-curl-whole.txt") transfers; $(grep -v '^200 16384 *$' "$TMP/busy-curl-whole.txt" | sort | uniq -c)"
expect_eq "$(grep -vc '^200 16384 *$' "$TMP/busy-curl-whole.txt")" 0 "busy: curl failures"
expect_eq "$(client_errors busy requests | awk '{print ($1 <= 4)}')" 1 \
	"busy: requests errors, one per connection at most"

in_ns_only ip link set lo mtu 1500
scenario think 0.05
every_one_closed think
expect_eq "$(jget "$ends" 'd["met_fin"] * 10 <= '"$matched")" True \
	"think: connections whose request met the FIN, 10 % at most"
for c in requests urllib3 go; do
	expect_eq "$(client_errors think $c)" 0 "think: $c errors"
done
