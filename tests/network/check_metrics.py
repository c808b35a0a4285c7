#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Checks a Prometheus text exposition as a scraper would read it.

    check_metrics.py FILE [EXPECT]...

prometheus_client's parser must read every family, each with a type (not
"unknown") and help text; in the text itself each family's HELP and TYPE
lines come before its samples, counters' samples end in _total and no
family appears twice. Each EXPECT is NAME{LABEL=VALUE,...}OP NUMBER (OP one
of ==, >=, >, <=): a sample with that name whose labels include those must
exist and compare so. Exit status 0 when all holds, 1 with the reasons.
"""
import re
import sys

from prometheus_client.parser import text_string_to_metric_families

EXPECT = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?(==|>=|<=|>)(-?[0-9.e+]+)$')


def structure(text, errors):
    """HELP and TYPE before the samples of each family, each family once."""
    seen_type, helped, done, current = {}, set(), set(), None
    for n, line in enumerate(text.splitlines(), 1):
        if not line:
            continue
        if line.startswith("# HELP "):
            helped.add(line.split(" ", 3)[2])
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            if name in seen_type:
                errors.append(f"line {n}: family {name} given twice")
            if name not in helped:
                errors.append(f"line {n}: family {name} has no HELP before its TYPE")
            seen_type[name] = kind
            if current:
                done.add(current)
            current = name
            continue
        if line.startswith("#"):
            continue
        name = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0)
        if name != current:
            errors.append(f"line {n}: sample {name} outside its family (in {current})")
        elif seen_type[name] == "counter" and not name.endswith("_total"):
            errors.append(f"line {n}: counter {name} does not end in _total")


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        text = f.read()
    errors = []
    structure(text, errors)
    samples = []
    n_families = 0
    for fam in text_string_to_metric_families(text):
        n_families += 1
        if fam.type in ("unknown", "untyped"):
            errors.append(f"family {fam.name} has no type")
        if not fam.documentation:
            errors.append(f"family {fam.name} has no help")
        if fam.type == "counter" and not all(s.name.endswith("_total") for s in fam.samples):
            errors.append(f"counter {fam.name}: a sample does not end in _total")
        samples.extend(fam.samples)
    if n_families == 0:
        errors.append("no metric family at all")
    for spec in sys.argv[2:]:
        m = EXPECT.match(spec)
        if not m:
            errors.append(f"bad expectation {spec!r}")
            continue
        name, labels, op, want = m.group(1), m.group(2), m.group(3), float(m.group(4))
        need = dict(kv.split("=", 1) for kv in labels.split(",")) if labels else {}
        found = [s for s in samples
                 if s.name == name and all(s.labels.get(k) == v for k, v in need.items())]
        if not found:
            errors.append(f"{spec}: no such sample")
            continue
        v = found[0].value
        ok = {"==": v == want, ">=": v >= want, ">": v > want, "<=": v <= want}[op]
        if not ok:
            errors.append(f"{spec}: the sample is {v}")
    for e in errors:
        print(f"check_metrics: {e}", file=sys.stderr)
    print(f"check_metrics: {n_families} families, {len(samples)} samples, "
          f"{len(sys.argv) - 2} expectations, {len(errors)} problems")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
