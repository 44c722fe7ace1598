#!/usr/bin/env bash
# The agent's layers, one way: a file includes only headers of its own layer
# or of a layer below it. base < sys < kernel < engine < front < connctld.c;
# the CLI (cli/) may use base and sys only, and skeletons belong to kernel/.
# Prints each violation as FILE:LINE: and exits 1 if there is any.
set -uo pipefail
cd "$(dirname "$0")/../user" || exit 1

rank() {
	case $1 in
	base) echo 0 ;; sys) echo 1 ;; kernel) echo 2 ;; engine) echo 3 ;;
	front) echo 4 ;; top) echo 5 ;; cli) echo 1 ;; *) echo 99 ;;
	esac
}

bad=0
while IFS=: read -r file line text; do
	layer=${file%%/*}
	[ "$layer" = "$file" ] && layer=top
	header=$(sed -n 's/^#include "\([^"]*\)".*/\1/p' <<<"$text")
	case $header in
	connctl.h | connctl_match.h | version.h) continue ;;	# shared ABI and its matcher; generated at build time
	*.skel.h)
		[ "$layer" = kernel ] && continue
		echo "$file:$line: $header: skeletons are the kernel layer's"
		bad=1
		continue ;;
	esac
	hlayer=${header%%/*}
	if [ "$hlayer" = "$header" ]; then
		echo "$file:$line: $header: name the layer (\"base/...\", \"engine/...\")"
		bad=1
	elif [ "$(rank "$hlayer")" -gt "$(rank "$layer")" ] ||
	     { [ "$layer" = cli ] && [ "$hlayer" != base ] && [ "$hlayer" != sys ]; }; then
		echo "$file:$line: $layer may not include $header"
		bad=1
	fi
done < <(grep -rn '^#include "' --include='*.c' --include='*.h' .  | sed 's|^\./||')
exit $bad
