#!/bin/sh
# The tools' shared conventions, from the outside: exit codes, options in
# any order, --version, per-command --help, --json that parses, and no
# state directory made where its parent is missing.
# usage: conventions.sh SODACTL SODA-IDS SODA-BLACKBOX
set -u
sodactl=$1
ids=$2
bb=$3
tmp=$(mktemp -d /tmp/soda-conv-XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM
fail=0
# expect CODE CMD...: the command exits with CODE.
expect() {
	want=$1
	shift
	"$@" >"$tmp/out" 2>"$tmp/err"
	got=$?
	if [ "$got" != "$want" ]; then
		echo "'$*': exit $got, want $want"
		sed 's/^/    /' "$tmp/err" | head -5
		fail=1
	fi
}
T="--uri test:///default"
expect 0 "$sodactl" --version
expect 0 "$ids" --version
expect 0 "$bb" --version
expect 0 "$sodactl" create --help
grep -q -- "--memory MIB" "$tmp/out" || { echo "create --help lacks --memory"; fail=1; }
expect 0 "$sodactl" help network create
expect 2 "$sodactl" frobnicate
expect 2 "$sodactl" create
expect 2 "$sodactl" $T create web --memory
expect 2 "$sodactl" $T list --bogus
expect 2 "$ids" --bogus
expect 2 "$bb" frobnicate
expect 3 "$sodactl" $T info nosuchserver
expect 3 "$sodactl" $T start nosuchserver
# Options in any order: global options after the command, the command's
# options before its argument.
expect 0 "$sodactl" list --json $T
expect 0 "$sodactl" $T list --json
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$tmp/out" || { echo "list --json: not JSON"; fail=1; }
expect 0 "$sodactl" image list --json $T
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$tmp/out" || { echo "image list --json: not JSON"; fail=1; }
# A state directory whose parent is missing is an error, and nothing is made.
expect 1 "$sodactl" --state-dir "$tmp/missing/state" list
[ ! -e "$tmp/missing" ] || { echo "--state-dir made $tmp/missing"; fail=1; }
grep -q "parent directory does not exist" "$tmp/err" || { echo "no reason given for the missing parent"; fail=1; }
expect 0 "$sodactl" --state-dir "$tmp/state" list
[ -d "$tmp/state" ] || { echo "--state-dir did not make $tmp/state"; fail=1; }
expect 3 "$sodactl" --state-dir "$tmp/state" network info nosuchnet
[ "$fail" = 0 ] && echo "conventions: exit codes, option order, --json, --version, state directory: as documented"
exit "$fail"
