#!/usr/bin/env bash
# --rules-dir: the rules of the directory's *.json files stand from the start
# (and apply to what exists: a reset rule cuts held connections), and follow
# the files: a file changed, added, removed; a Kubernetes ConfigMap update
# (the ..data symlink swapped). A file that does not parse changes nothing
# of its own, and says where; the others are followed. Those rules cannot be deleted over the socket, and a
# restarted agent keeps them, same ids, none twice.
. "$(dirname "$0")/lib.sh"

setup_env
DIR=$TMP/rules
mkdir -p "$DIR"
echo '{"action":"reset","lport":9100}' >"$DIR/cut.json"
echo '[{"action":"observe","lport":9200},{"action":"drain","lport":9300,"quiet":"0"}]' \
	>"$DIR/web.json"
echo 'not a rule, and not read' >"$DIR/README"

hold_start 9100:5 9400:5
start_agent --rules-dir "$DIR"

# dir_rules: "action:lport" of the standing rules from the directory, sorted.
dir_rules() {
	connctl -j rule show | python3 -c 'import json, sys
print(" ".join(sorted("%s:%s" % (r["action"], r["lport"])
                      for r in json.load(sys.stdin) if r.get("from_rules_dir"))))'
}
expect_eq "$(dir_rules)" "drain:9300 observe:9200 reset:9100" "rules at start"
expect_eq "$(hold_ask alive 9100)" 0 "held connections to 9100 after the reset rule"
expect_eq "$(hold_ask alive 9400)" 5 "held connections to 9400"
id_9200() { connctl -j rule show | jget "$(cat)" '[r["id"] for r in d if r["lport"] == 9200]'; }
before=$(id_9200)

# Deleting a rule of the directory over the socket: refused.
rc=0
out=$(connctl rule del 1 2>&1) || rc=$?
expect_eq "$rc" 1 "exit status of rule del on a rule of the directory"
[[ "$out" == *"comes from --rules-dir"* ]] || die "rule del said: $out"

# A file changed (one rule dropped, one kept), one added, one removed.
echo '[{"action":"observe","lport":9200}]' >"$DIR/web.json"
is() { [ "$(dir_rules)" = "$1" ]; }
wait_until 5 is "observe:9200 reset:9100" || die "after web.json changed: $(dir_rules)"
expect_eq "$(id_9200)" "$before" "the id of the rule kept"
echo '{"action":"reset","lport":9400}' >"$DIR/more.json"
wait_until 5 is "observe:9200 reset:9100 reset:9400" || die "after more.json: $(dir_rules)"
expect_eq "$(hold_ask alive 9400)" 0 \
	"held connections to 9400 after more.json's reset rule"
rm "$DIR/cut.json"
wait_until 5 is "observe:9200 reset:9400" || die "after cut.json went: $(dir_rules)"

# A file that does not parse: the log says which and why; it changes
# nothing of its own, and the other files are followed all the same.
echo '{"action":"reset","lport":99999}' >"$DIR/bad.json"
said() { grep -q "rules-dir $DIR/bad.json: .*lport.*stay as they were" "$AGENT_LOG"; }
wait_until 5 said || die "no word of bad.json in the log"
echo '{"action":"observe","lport":9500}' >"$DIR/good.json"
wait_until 5 is "observe:9200 observe:9500 reset:9400" ||
	die "good.json while bad.json is bad: $(dir_rules)"
rm "$DIR/bad.json"
expect_eq "$(dir_rules)" "observe:9200 observe:9500 reset:9400" "rules after bad.json went"

# A ConfigMap: files are symlinks through ..data, which an update swaps.
rm "$DIR"/*.json
mkdir "$DIR/..2026_v1" "$DIR/..2026_v2"
echo '{"action":"observe","rport":443}' >"$DIR/..2026_v1/map.json"
echo '{"action":"observe","rport":8443}' >"$DIR/..2026_v2/map.json"
ln -s ..2026_v1 "$DIR/..data"
ln -s ..data/map.json "$DIR/map.json"
cm_is() { [ "$(connctl -j rule show | jget "$(cat)" '[r.get("rport") for r in d if r.get("from_rules_dir")]')" = "$1" ]; }
wait_until 5 cm_is "[443]" || die "ConfigMap v1: $(connctl -j rule show)"
ln -s ..2026_v2 "$DIR/..data_tmp" && mv -T "$DIR/..data_tmp" "$DIR/..data"
wait_until 5 cm_is "[8443]" || die "ConfigMap v2: $(connctl -j rule show)"

# A restarted agent: the same rules, the same ids, none twice; the state
# file holds none of them.
before=$(connctl -j rule show | jget "$(cat)" '[(r["id"], r.get("rport")) for r in d]')
kill_agent
start_agent --rules-dir "$DIR"
expect_eq "$(connctl -j rule show | jget "$(cat)" '[(r["id"], r.get("rport")) for r in d]')" \
	"$before" "rules after a restart"
expect_eq "$(grep -c '"rule"' "$STATE_FILE" || true)" 0 "rules of the directory in the state file"

# Without --rules-dir, the directory's rules go.
stop_agent
start_agent
expect_eq "$(connctl -j rule show | jget "$(cat)" 'len(d)')" 0 "rules without --rules-dir"
hold_stop
