#!/usr/bin/env bash
# Connections established while a drain rule stands are drained the same
# way, over IPv4 and IPv6: served in full, then closed with a FIN once
# quiet. A `once` drain
# keeps draining what it tagged after the rule itself is gone.
. "$(dirname "$0")/lib.sh"

setup_env
start_nginx 8080 8081
start_agent

connctl rule add action drain lport 8080 quiet 100ms >/dev/null
res=$(in_ns python3 "$CLIENTS_PY" fetch --to 127.0.0.1:8080 --path /small --deadline 5)
log "$res"
expect_body "$res" "$TMP/www/small" "a new connection"
expect_eq "$(jget "$res" 'd["end"]')" eof "how the new connection ended"
# Timed from when the client read the last byte, which can be a moment after
# its kernel acknowledged it, when the quiet period started.
expect_eq "$(jget "$res" '95 <= d["end_after_ms"] < 400')" True \
	"EOF after the quiet period ($(jget "$res" 'd["end_after_ms"]') ms)"
res=$(in_ns python3 "$CLIENTS_PY" fetch --to '[::1]:8080' --path /small --deadline 5)
log "$res"
expect_body "$res" "$TMP/www/small" "IPv6"
expect_eq "$(jget "$res" 'd["end"]')" eof "IPv6: how the new connection ended"
show=$(connctl -j rule show)
expect_eq "$(jget "$show" 'd[0]["stats"]["new_matches"]')" 2 "new matches"
expect_eq "$(jget "$show" 'd[0]["stats"]["closed"]["fin"]')" 2 "closed with a FIN"

# once: tag the download that exists now, keep no rule, still drain it.
res=$(fetch_adding_rule 8081 /paced 100000 action drain lport 8081 once)
log "$res"
expect_eq "$(jget "$res" 'json.loads(d["cmd"]["stdout"])["matched"]')" 1 "once: matched"
expect_body "$res" "$TMP/www/paced" "once"
expect_eq "$(jget "$res" 'd["end"]')" eof "once: how the download's connection ended"
expect_eq "$(connctl -j rule show | jget "$(cat)" 'len(d)')" 1 "once: no rule kept"
expect_eq "$(connctl -j events | jget "$(cat)" 'd[-1]["outcome"] + " " + str(d[-1]["lport"])')" \
	"fin 8081" "once: the close event"
