#!/bin/bash
# The bash completion script, driven as bash drives it: commands, a
# command's second word, options, and server names from a real state
# directory. usage: completion.sh SODACTL COMPLETION-SCRIPT
set -eu
sodactl=$1
script=$2
state=$(mktemp -d /tmp/soda-compl-XXXXXX)
trap 'rm -rf "$state"' EXIT INT TERM
export SODA_STATE_DIR=$state
# The script runs the tool by the name typed, as bash would find it.
PATH=$(dirname "$sodactl"):$PATH

"$sodactl" image build busybox >/dev/null
"$sodactl" create web >/dev/null
"$sodactl" create shop >/dev/null

# shellcheck disable=SC1090
source "$script"
fail=0
# expect "WORDS..." -- CANDIDATES...: completing the last word gives exactly these.
expect() {
	local words=() want=() got
	while [ "$1" != "--" ]; do words+=("$1"); shift; done
	shift
	want=("$@")
	COMP_WORDS=(sodactl "${words[@]}")
	COMP_CWORD=${#words[@]}
	COMPREPLY=()
	_soda_complete
	got=$(printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ')
	local w
	w=$(printf '%s\n' "${want[@]}" | sort | tr '\n' ' ')
	if [ "$got" != "$w" ]; then
		echo "completing '${words[*]}': got '$got', want '$w'"
		fail=1
	fi
}
expect "st" -- start stop stats
expect "network" "" -- create destroy list info flood-limit
expect "start" "" -- shop web
expect "start" "w" -- web
expect "info" "--j" -- --json
expect "create" "x" "--ima" -- --image
expect "create" "x" "--image" "" -- busybox
expect "policy" "apply" "" -- # no networks yet
[ "$fail" = 0 ] && echo "completion: commands, subcommands, options and names complete"
exit "$fail"
