#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Lists the exported C functions that a binding does not call, one per
# line ("python: soda_x", "go: soda_x"); prints nothing, and exits 0, when
# the Python and Go bindings cover the whole API. Registered as the unit
# test binding-coverage, which fails on any output.
#
# The API: every symbol of libsoda/libsoda.sym and libsoda/*/*.sym, except
# those declared only in include/soda/sys/*.h, which are for backend
# writers in C (a driver table of function pointers, soda_error_set for
# drivers' errors, the netdev hooks, logging from a driver) and have no
# use in a binding.
# Python calls a function as lib.NAME (bindings/python/libsoda/*.py) and
# must declare it in its cdef (_cdef.py, from tools/gen_cdef.sh); Go calls
# it as C.NAME in bindings/go/*.go or from its C helpers (callbacks.c).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cat libsoda/libsoda.sym libsoda/*/*.sym | sed 's/#.*//; s/[[:space:]]//g' | grep -E '^soda_' |
	sort -u > "$tmp/sym"
grep -ohE '\bsoda_[a-z0-9_]+[[:space:]]*\(' include/soda/sys/*.h | tr -d ' (\t' | sort -u > "$tmp/sys"
grep -ohE '\bsoda_[a-z0-9_]+[[:space:]]*\(' include/soda/*.h | tr -d ' (\t' | sort -u > "$tmp/pub"
# Backend-only: in sys/ and not in a public header.
comm -23 "$tmp/sys" "$tmp/pub" > "$tmp/backend"
comm -23 "$tmp/sym" "$tmp/backend" > "$tmp/api"

ls bindings/python/libsoda/*.py | grep -v '/_cdef\.py$' | xargs grep -ohE '\blib\.soda_[a-z0-9_]+' |
	sed 's/^lib\.//' | sort -u > "$tmp/py"
grep -ohE '\bsoda_[a-z0-9_]+[[:space:]]*\(' bindings/python/libsoda/_cdef.py | tr -d ' (\t' |
	sort -u > "$tmp/pycdef"
ls bindings/go/*.go | grep -v '_test\.go$' | xargs grep -ohE '\bC\.soda_[a-z0-9_]+' |
	sed 's/^C\.//' | sort -u > "$tmp/go"
grep -ohE '\bsoda_[a-z0-9_]+[[:space:]]*\(' bindings/go/callbacks.c | tr -d ' (\t' >> "$tmp/go"
sort -u -o "$tmp/go" "$tmp/go"

comm -23 "$tmp/api" "$tmp/py" | sed 's/^/python: /' > "$tmp/out"
comm -23 "$tmp/py" "$tmp/pycdef" | sed 's/^/python (not in _cdef.py): /' >> "$tmp/out"
comm -23 "$tmp/api" "$tmp/go" | sed 's/^/go: /' >> "$tmp/out"
cat "$tmp/out"
test ! -s "$tmp/out"
