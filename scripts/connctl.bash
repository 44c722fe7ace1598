# bash completion for connctl: objects, verbs, actions, rule keywords, and
# the rule ids of the running agent (asked over its socket: `rule del <TAB>`).
# Installed as share/bash-completion/completions/connctl.

_connctl_rule_ids()
{
	"$1" ${2:+--socket "$2"} -j rule show 2>/dev/null |
		grep -oE '"id":[0-9]+' | cut -d: -f2
}

_connctl()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	local sock= args=() i w words

	COMPREPLY=()
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		case $w in
		--socket) sock=${COMP_WORDS[i + 1]}; ((i++)) ;;
		-j | -p | --json | --pretty) ;;
		*) args+=("$w") ;;
		esac
	done
	if [ "$prev" = --socket ]; then
		COMPREPLY=($(compgen -f -- "$cur"))
		return
	fi
	if [ ${#args[@]} -eq 0 ] && [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W '--socket --json --pretty --help --version -j -p' -- "$cur"))
		return
	fi
	case ${#args[@]}:${args[0]}:${args[1]} in
	0::) words='rule flow stats events watch' ;;
	1:rule:) words='add del show' ;;
	2:rule:del | 2:rule:show) words=$(_connctl_rule_ids "${COMP_WORDS[0]}" "$sock") ;;
	*:rule:add)
		case $prev in
		action) words='reset block drain cancel observe' ;;
		proto) words='tcp udp' ;;
		netns) COMPREPLY=($(compgen -f -- "${cur:-/var/run/netns/}")); return ;;
		local | remote | lport | rport | cgroup | timeout | quiet | ttl | mark | id) return ;;
		*)
			words='action local remote lport rport netns cgroup proto timeout quiet ttl
			       mark once id dry-run'
			# Each keyword once.
			for w in "${args[@]:2}"; do
				words=$(tr ' \t\n' '\n\n\n' <<<"$words" | grep -vx -- "$w")
			done ;;
		esac ;;
	1:flow:) words='show' ;;
	2:flow:show) words='rule' ;;
	3:flow:show) [ "$prev" = rule ] && words=$(_connctl_rule_ids "${COMP_WORDS[0]}" "$sock") ;;
	1:watch:) words='rule' ;;
	2:watch:rule) words=$(_connctl_rule_ids "${COMP_WORDS[0]}" "$sock") ;;
	esac
	COMPREPLY=($(compgen -W "$words" -- "$cur"))
}

complete -F _connctl connctl
