#!/usr/bin/env bash
# make demo's script: each client saw what the README promises (drain: EOF
# after complete responses; reset: resets; cancel: EOF at once), the live
# events came through, and it left nothing behind: no namespace, cgroup or
# pin directory of its own.
. "$(dirname "$0")/lib.sh"

out=$("$TOP/scripts/demo.sh" 2>&1) || die "the demo failed: $out"
log "$out"
for want in "the idle clients ended: {'eof': 5}" \
	"1048576 of 1048576 bytes, sha256 intact, then eof" \
	"their next request got: {'reset': 5}" \
	"a new connection: {'reset': 1}" \
	"the client read EOF (a FIN)" \
	"event: .* rule 2 drain fin " \
	"event: .* rule 4 cancel fin "; do
	grep -qE -- "$(sed 's/[][(){}.*]/\\&/g; s/\\\.\\\* /.* /g' <<<"$want")" <<<"$out" ||
		grep -qF -- "$want" <<<"$out" || die "the demo did not show: $want"
done
demo_tag=$(sed -n 's/^== Setting up: namespace \(cc-demo-[0-9]*\),.*/\1/p' <<<"$out")
[ -n "$demo_tag" ] || die "the demo did not name its namespace"
[ ! -e "/var/run/netns/$demo_tag" ] || die "the demo left its namespace"
[ ! -e "$CG_ROOT/$demo_tag" ] || die "the demo left its cgroup"
[ ! -e "/sys/fs/bpf/$demo_tag" ] || die "the demo left its pins"
! grep -q Killed <<<"$out" || die "the demo printed job noise"
