#!/bin/bash
# Runs every ```sh block of docs/tutorial.md, in order, as one script with
# `set -e`: the tutorial's commands work as written. Its paths and the
# namespace name are made unique to this run; whatever it leaves behind
# when a step fails is removed.
# usage: tutorial.sh BUILD-DIR TUTORIAL.md
set -eu
build=$1
doc=$2
tmp=$(mktemp -d /tmp/soda-tut-XXXXXX)
ns=soda-tut-$$
script=$tmp/tutorial.sh
cleanup() {
	for s in web db cache; do
		SODA_STATE_DIR=$tmp/state SODA_NETNS=$ns "$build/sodactl" destroy "$s" >/dev/null 2>&1 || true
	done
	SODA_STATE_DIR=$tmp/state SODA_NETNS=$ns "$build/sodactl" network destroy shop --force >/dev/null 2>&1 || true
	ip netns del "$ns" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

{
	echo 'set -euo pipefail'
	echo 'set -x'
	awk '/^```sh$/ { on = 1; next } /^```$/ { on = 0; next } on' "$doc" |
		sed -e "s|/tmp/soda-shop-tenant|$tmp/tenant|g" -e "s|/tmp/soda-shop|$tmp/state|g" \
		    -e "s|soda-shop|$ns|g"
} >"$script"
blocks=$(grep -c '^```sh$' "$doc")
[ "$blocks" -ge 8 ] || { echo "tutorial.sh: only $blocks sh blocks in $doc"; exit 1; }
PATH=$build:$PATH bash "$script"
echo "tutorial: all $blocks blocks of $(basename "$doc") ran"
