#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The core (libsoda/) names no backend: a backend is added without editing
# it (cmake/backends.cmake lists the built-in ones, plugins bring the rest).
#  - The libvirt backend, which came after that rule: not one mention.
#  - uml and test, and backends/ (UML's configuration rules are in
#    backends/uml, its driver's validate(); the host facilities are in
#    host/, which the switch and the drivers share): what mentions remain
#    (comments, the module files that build UML's helper programs) are
#    printed as a known list whose count must not grow. Lower KNOWN_MAX
#    when it shrinks.
set -u
src=${1:-$(dirname "$0")/../..}
core=$src/libsoda
KNOWN_MAX=4
fail=0

if [ ! -d "$core" ]; then
	echo "FAIL: no $core"
	exit 1
fi

strict=$(grep -rniE 'libvirt|virConnect|virDomain|soda-libvirt' "$core")
if [ -n "$strict" ]; then
	echo "FAIL: libsoda/ names the libvirt backend:"
	echo "$strict"
	fail=1
fi

# What names the uml and test backends and backends/ facilities: their
# directories, schemes, driver symbols and the word "uml" itself.
pattern='backends/(uml|test|host|nft)|\buml\b|uml_|_uml|uml:|test:///|"test"|su_test_driver'
known=$(grep -rnE -i "$pattern" "$core" | sed "s|^$src/||")
count=$(printf '%s' "$known" | grep -c '' || true)
echo "known references to uml/test/backends in libsoda/ ($count, at most $KNOWN_MAX):"
printf '%s\n' "$known" | sed 's/^/  /'
if [ "$count" -gt "$KNOWN_MAX" ]; then
	echo "FAIL: $count references to uml/test/backends in libsoda/, more than the $KNOWN_MAX known"
	fail=1
elif [ "$count" -lt "$KNOWN_MAX" ]; then
	echo "note: fewer than $KNOWN_MAX: lower KNOWN_MAX in $0 to $count"
fi
[ $fail -eq 0 ] && echo "PASS: libsoda/ does not name the libvirt backend"
exit $fail
