#!/usr/bin/env bash
# Runs every unit and end-to-end test; the last line is "N passed, N failed".
# Usage: tests/run.sh [PATTERN]   (PATTERN selects e2e tests by name, e.g. reset)
set -uo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$TOP/build
PATTERN=${1:-}
E2E_TIMEOUT=${E2E_TIMEOUT:-180}
LOGDIR=$BUILD/test-logs
passed=0
failed=0
failures=()

mkdir -p "$LOGDIR"

run_unit() {
	local bin=$1 name out p f
	name=$(basename "$bin")
	out=$("$bin" 2>&1)
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' <<<"$out" | tail -n 1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' <<<"$out" | tail -n 1)
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0}))
	if [ "${f:-0}" -ne 0 ] || [ -z "$p$f" ]; then
		[ -z "$p$f" ] && failed=$((failed + 1))
		failures+=("unit/$name")
		echo "FAIL unit/$name"
		grep -E '^\[  (ERROR|FAILED) \]|error:|Failure' <<<"$out" | head -n 20
	else
		echo "ok   unit/$name ($p cases)"
	fi
}

run_e2e() {
	local t=$1 name log start rc
	name=$(basename "$t")
	log=$LOGDIR/${name%.*}.log
	start=$(date +%s)
	timeout --kill-after=10 "$E2E_TIMEOUT" "$t" >"$log" 2>&1
	rc=$?
	if [ $rc -eq 0 ]; then
		passed=$((passed + 1))
		echo "ok   e2e/$name ($(($(date +%s) - start))s)"
	else
		failed=$((failed + 1))
		failures+=("e2e/$name")
		[ $rc -eq 124 ] && echo "FAIL e2e/$name (timed out after ${E2E_TIMEOUT}s)" ||
			echo "FAIL e2e/$name (exit $rc; log: $log)"
		tail -n 25 "$log" | sed 's/^/     /'
	fi
}

# The layers of user/, one way (a check over the #include lines).
run_check() {
	local out
	if out=$("$TOP/tests/check_layers.sh" 2>&1); then
		passed=$((passed + 1))
		echo "ok   check/layers"
	else
		failed=$((failed + 1))
		failures+=("check/layers")
		echo "FAIL check/layers"
		sed 's/^/     /' <<<"$out"
	fi
}

if [ -z "$PATTERN" ]; then
	run_check
	for bin in "$BUILD"/tests/*; do
		[ -x "$bin" ] && run_unit "$bin"
	done
fi
for t in "$TOP"/tests/e2e/test_*; do
	case $(basename "$t") in *"$PATTERN"*) run_e2e "$t" ;; esac
done

if [ ${#failures[@]} -gt 0 ]; then
	echo
	echo "failed: ${failures[*]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
