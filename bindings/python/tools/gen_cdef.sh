#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Writes libsoda/_cdef.py from the public headers: the C preprocessor reads
# every include/soda/*.h (not sys/) with empty stand-ins for the two
# standard headers they include (cffi knows their types), so the binding
# declares exactly what the headers do. Run after a header changes:
#   bindings/python/tools/gen_cdef.sh > bindings/python/libsoda/_cdef.py
set -eu
top=$(cd "$(dirname "$0")/../../.." && pwd)
fake=$(mktemp -d)
trap 'rm -rf "$fake"' EXIT
: > "$fake/stddef.h"
: > "$fake/stdint.h"
for h in "$top"/include/soda/*.h; do
	printf '#include <soda/%s>\n' "$(basename "$h")"
done > "$fake/all.h"
echo '# SPDX-License-Identifier: LGPL-2.1-or-later'
echo '"""The C declarations of include/soda/*.h (written by tools/gen_cdef.sh; do not edit)."""'
echo
echo 'CDEF = r"""'
${CC:-cc} -E -P -nostdinc -I"$fake" -I"$top/include" -DSODA_EXPORT= "$fake/all.h" | grep -v '^[[:space:]]*$'
echo '"""'
