#!/bin/sh
# Checks that a tool's man page renders (man -l) and names every command
# the tool has (TOOL __commands lists them).
# usage: man_check.sh TOOL PAGE
set -eu
tool=$1
page=$2
text=$(MANWIDTH=200 man -l "$page" 2>&1) || { echo "man -l $page failed: $text"; exit 1; }
[ -n "$text" ] || { echo "man -l $page printed nothing"; exit 1; }
missing=0
n=0
cmds=$("$tool" __commands)
[ -n "$cmds" ] || { echo "$tool __commands printed nothing"; exit 1; }
while IFS= read -r cmd; do
	n=$((n + 1))
	if ! printf '%s\n' "$text" | grep -q -- "\(^\|[ ,]\)$cmd\([ ,]\|$\)"; then
		echo "$(basename "$page"): no '$cmd'"
		missing=$((missing + 1))
	fi
done <<EOF2
$cmds
EOF2
[ "$missing" = 0 ] || exit 1
echo "$(basename "$page"): renders, names all $n commands of $(basename "$tool")"
