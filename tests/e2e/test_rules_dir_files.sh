#!/usr/bin/env bash
# --rules-dir, file by file: a file that goes bad (a cgroup it names is
# gone) keeps the rules it had and freezes nothing else; a file applies whole
# or not at all (--max-rules); what a file that is no rules file holds (a
# link to /etc/shadow, a JSON of secrets) never reaches the log.
. "$(dirname "$0")/lib.sh"

setup_env
DIR=$TMP/rules
mkdir -p "$DIR" "$CGROUP/gone"
echo '{"action":"reset","lport":9601}' >"$DIR/a.json"
echo '{"action":"observe","lport":9602,"cgroup":"'"${CGROUP#"$CG_ROOT"}"'/gone"}' >"$DIR/b.json"
start_agent --rules-dir "$DIR" --max-rules 8

dir_rules() {
	connctl -j rule show | python3 -c 'import json, sys
print(" ".join(sorted("%s:%s" % (r["action"], r.get("lport"))
                      for r in json.load(sys.stdin) if r.get("from_rules_dir"))))'
}
is() { [ "$(dir_rules)" = "$1" ]; }
expect_eq "$(dir_rules)" "observe:9602 reset:9601" "rules at start"

# b.json's cgroup goes: b.json is bad now, and keeps its rule.
rmdir "$CGROUP/gone"
touch "$DIR/b.json"
said() { grep -q "rules-dir $DIR/b.json: .*not a cgroup v2 directory.*stay as they were" "$AGENT_LOG"; }
wait_until 5 said || die "no word of b.json in the log"
# The others are followed: a deleted file's reset rule goes, a new file comes.
rm "$DIR/a.json"
wait_until 5 is "observe:9602" || die "after a.json went: $(dir_rules)"
echo '{"action":"reset","lport":9603}' >"$DIR/c.json"
wait_until 5 is "observe:9602 reset:9603" || die "after c.json came: $(dir_rules)"
log "ok: a bad file froze nothing else"

# A file of 12 rules under --max-rules 8: none of it applied.
python3 -c 'import json; print(json.dumps([{"action": "observe", "lport": 9700 + i} for i in range(12)]))' \
	>"$DIR/big.json"
said_room() { grep -q "rules-dir $DIR/big.json: its 12 new rules would pass --max-rules 8" "$AGENT_LOG"; }
wait_until 5 said_room || die "no word of big.json in the log"
expect_eq "$(dir_rules)" "observe:9602 reset:9603" "rules while big.json does not fit"
# Five of them fit: the file comes whole.
python3 -c 'import json; print(json.dumps([{"action": "observe", "lport": 9700 + i} for i in range(5)]))' \
	>"$DIR/big.json"
wait_until 5 is "observe:9602 observe:9700 observe:9701 observe:9702 observe:9703 observe:9704 reset:9603" ||
	die "after big.json shrank: $(dir_rules)"
rm "$DIR/big.json"
wait_until 5 is "observe:9602 reset:9603" || die "after big.json went: $(dir_rules)"

# Not rules files: nothing of what they hold is logged.
ln -s /etc/shadow "$DIR/shadow.json"
echo '{"password": "hunter2", "token": "s3cr3t"}' >"$TMP/secret.json"
chmod 0600 "$TMP/secret.json"
cp "$TMP/secret.json" "$DIR/secret.json"
said_shadow() { grep -q "rules-dir $DIR/shadow.json: a link out of the directory" "$AGENT_LOG"; }
wait_until 5 said_shadow || die "no word of shadow.json in the log"
said_secret() { grep -q "rules-dir $DIR/secret.json: not a rule" "$AGENT_LOG"; }
wait_until 5 said_secret || die "no word of secret.json in the log"
first=$(head -c 5 /etc/shadow | cut -d: -f1)
for word in password hunter2 token s3cr3t "$first:"; do
	! grep -qF -- "$word" "$AGENT_LOG" || die "the log quotes '$word'"
done
log "ok: the log names the files, and quotes none of them"
expect_eq "$(dir_rules)" "observe:9602 reset:9603" "rules with the two files there"

# A file's rules keep their proto and their block.
echo '[{"action":"cancel","proto":"udp","rport":9704},{"action":"block","remote":"192.0.2.9"}]' \
	>"$DIR/d.json"
wait_until 5 is "block:None cancel:None observe:9602 reset:9603" ||
	die "after d.json came: $(dir_rules)"
expect_eq "$(connctl -j rule show | jget "$(cat)" \
	'sorted((r["action"], r["proto"]) for r in d if r.get("from_rules_dir"))')" \
	"[('block', 'tcp'), ('cancel', 'udp'), ('observe', 'tcp'), ('reset', 'tcp')]" \
	"the actions and protos of the directory's rules"
