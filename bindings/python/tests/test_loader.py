# SPDX-License-Identifier: LGPL-2.1-or-later
"""How the package finds the C library: $SODA_LIBRARY first, then a copy
beside the package, then libsoda.so.0 through the dynamic linker; a
missing library is an ImportError that says what to set."""

import os
import shutil
import subprocess
import sys

PKG = os.path.join(os.path.dirname(__file__), "..", "libsoda")
PROBE = ("import libsoda, sys\n"
         "maps = open('/proc/self/maps').read()\n"
         "print([l.split()[-1] for l in maps.splitlines() if 'libsoda.so' in l][0])\n")


def run(tmp_path, env_lib):
    env = {k: v for k, v in os.environ.items()
           if k not in ("SODA_LIBRARY", "LD_LIBRARY_PATH", "PYTHONPATH")}
    if env_lib is not None:
        env["SODA_LIBRARY"] = env_lib
    env["PYTHONPATH"] = str(tmp_path)
    return subprocess.run([sys.executable, "-c", PROBE], env=env, cwd=str(tmp_path),
                          capture_output=True, text=True)


def test_library_search_order(tmp_path):
    real = os.path.realpath(os.environ["SODA_LIBRARY"])
    shutil.copytree(PKG, tmp_path / "libsoda", ignore=shutil.ignore_patterns("__pycache__"))
    beside = tmp_path / "libsoda" / "libsoda.so.0"
    shutil.copy(real, beside)
    # Beside the package, with no $SODA_LIBRARY.
    r = run(tmp_path, None)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(beside)
    # $SODA_LIBRARY wins over the copy.
    r = run(tmp_path, real)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == real
    # A $SODA_LIBRARY that is not there: an ImportError naming the variable.
    r = run(tmp_path, str(tmp_path / "nothing.so"))
    assert r.returncode != 0 and "ImportError" in r.stderr and "SODA_LIBRARY" in r.stderr
