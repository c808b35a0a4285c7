#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# pip install ./bindings/python works offline: a venv (with the system's
# site packages, where Debian's setuptools, wheel and cffi are), pip with
# no index and no build isolation, from a copy of the package (pip builds
# in the source tree), then the installed package is imported and used
# from outside the tree.
# Usage: test-install.sh PYTHON3 LIBSODA_SO
set -eu
py=$1
lib=$2
src=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d /tmp/soda-pyinstall-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cp -r "$src" "$tmp/src"
rm -rf "$tmp/src/tests"
"$py" -m venv --system-site-packages "$tmp/venv"
"$tmp/venv/bin/pip" install -q --no-index --no-build-isolation "$tmp/src"
cd "$tmp"
SODA_LIBRARY=$lib "$tmp/venv/bin/python" - <<'PY'
import os, sys, libsoda
where = os.path.dirname(libsoda.__file__)
assert where.startswith(sys.prefix), where              # the venv's copy
assert os.path.exists(os.path.join(where, "py.typed"))  # typed package
with libsoda.Context("test:///default") as ctx:
    try:
        ctx.server("none")
    except FileNotFoundError:
        pass
    else:
        raise SystemExit("no FileNotFoundError")
print("installed libsoda", libsoda.version(), "in", where)
PY
"$tmp/venv/bin/pip" uninstall -q -y libsoda
