#!/usr/bin/env bash
# Under load: 50 keep-alive connections send requests back to back and check
# every response, now and then idling for a second. Meanwhile drain rules are
# added and removed 100 times. Idle connections get drained (the client sees
# EOF before reuse and reopens), busy ones too once they have taken turns for
# a quiet period (a request sent back to back may meet the FIN: one per
# drained connection at most); no response is ever cut or corrupt, and no
# client sees a reset (an RST comes only after a FIN, to a request that met it).
. "$(dirname "$0")/lib.sh"

setup_env
start_nginx 8080
start_agent
start_capture "tcp port 8080 and tcp[tcpflags] & (tcp-rst|tcp-fin) != 0"

cat >"$TMP/cycles.sh" <<CYCLES
set -e
for i in \$(seq 1 100); do
	id=\$("$CONNCTL_BIN" --socket "$SOCK" -j rule add action drain lport 8080 quiet 100ms |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
	sleep 0.05
	"$CONNCTL_BIN" --socket "$SOCK" rule del "\$id" >/dev/null
	sleep 0.02
done
echo cycles done
CYCLES

res=$(in_ns python3 "$CLIENTS_PY" load --to 127.0.0.1:8080 --path /small --count 50 \
	--sha256 "$(sha256 "$TMP/www/small")" --seconds 1 --pause 1.0 --pause-chance 0.02 \
	-- bash "$TMP/cycles.sh")
log "$res"
stop_capture

expect_eq "$(jget "$res" 'd["cmd"]["rc"]')" 0 "the 100 add/remove cycles"
expect_load_clean "$res"
expect_eq "$(jget "$res" 'd["results"]["ok"] > 5000')" True "more than 5000 good responses"
expect_eq "$(jget "$res" 'd["results"]["reopened"] > 0')" True \
	"connections drained while idle (reopened by the client)"
# No connection is closed abortively. A request that met the FIN is held
# back; once the owner has closed, its retransmission (200 ms on) draws an
# RST, after the FIN: the client's read gives EOF still (counted above), and
# only a request that met the FIN draws one.
ends=$(python3 "$TOP/tests/e2e/pcap_ends.py" "$TMP/cap.pcap" 8080)
log "$ends"
expect_eq "$(jget "$ends" 'd["rst_seen"]')" 0 "RSTs with no FIN before them"
late=$(jget "$ends" 'd["rst_after_fin"]')
eof=$(jget "$res" 'd["results"]["eof_before_response"]')
expect_eq "$([ "$late" -le "$eof" ] && echo yes)" yes \
	"RSTs after a FIN ($late) are no more than the requests that met one ($eof)"
fins=$(grep -c ": fin after" "$AGENT_LOG" || true)
log "the agent closed $fins connections with a FIN"
expect_eq "$([ "$fins" -ge 1 ] && echo yes)" yes "closes logged as fin"
met=$(jget "$res" 'd["results"]["eof_before_response"] + d["results"]["reopened"]')
expect_eq "$([ "$met" -le "$fins" ] && echo yes)" yes \
	"connections that ended for the client ($met) are no more than the FINs ($fins)"
expect_eq "$(jget "$res" 'd["results"]["eof_before_response"] > 0')" True \
	"busy connections drained too (a request sent back to back met the FIN)"
