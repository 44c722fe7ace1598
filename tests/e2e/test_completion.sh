#!/usr/bin/env bash
# bash completion for connctl, driven as bash drives it (COMP_WORDS,
# COMP_CWORD, the function it registered): objects, verbs, actions, each
# rule keyword once, and the ids of the rules the running agent holds.
. "$(dirname "$0")/lib.sh"

setup_env
start_agent
connctl rule add action reset lport 9 id 4 >/dev/null
connctl rule add action observe lport 10 id 17 >/dev/null

# complete WORD...: what bash would offer for the last word.
complete_words() {
	PATH=$BUILD:$PATH bash -c '
		source "$1"; shift
		[ "$(complete -p connctl)" = "complete -F _connctl connctl" ] || exit 9
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _connctl
		[ ${#COMPREPLY[@]} -eq 0 ] || printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " "' \
		sh "$TOP/scripts/connctl.bash" "$@"
}

expect_eq "$(complete_words connctl "")" "events flow rule stats watch " "objects"
expect_eq "$(complete_words connctl --socket "$SOCK" rule "")" "add del show " "rule verbs"
expect_eq "$(complete_words connctl --socket "$SOCK" rule del "")" "17 4 " \
	"ids of the agent's rules for rule del"
expect_eq "$(complete_words connctl --socket "$SOCK" -j watch rule "")" "17 4 " \
	"ids for watch rule"
expect_eq "$(complete_words connctl rule add action "")" "block cancel drain observe reset " \
	"actions"
expect_eq "$(complete_words connctl rule add action reset lport 80 l)" "local " \
	"keywords not given yet"
expect_eq "$(complete_words connctl rule add action drain q)" "quiet " "a keyword"
expect_eq "$(complete_words connctl rule add action reset proto "")" "tcp udp " "protocols"
expect_eq "$(complete_words connctl rule add action drain lport "")" "" "a value"
expect_eq "$(complete_words connctl --ver)" "--version " "options"
