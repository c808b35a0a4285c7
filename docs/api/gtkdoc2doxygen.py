#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Doxygen input filter: libsoda's headers carry gtk-doc style comments
("name:" title line, "@param: text", "Returns: text"); this rewrites them
into Doxygen's commands on the fly, so the headers stay as they are."""
import re
import sys

TITLE = re.compile(r"^(\s*\*\s*)([a-z_][a-z0-9_]*):\s*$")
PARAM = re.compile(r"(^|\s|\*\s)@([a-z_][a-z0-9_]*):\s?")
RETURNS = re.compile(r"\bReturns:\s?")
MENTION = re.compile(r"@([A-Za-z_][A-Za-z0-9_]*)")
KNOWN = {"param", "return", "since", "deprecated", "note", "see"}


def convert(text):
    out = []
    in_doc = False
    for line in text.splitlines(keepends=True):
        if not in_doc and "/**" in line:
            in_doc = True
        if in_doc:
            if TITLE.match(line):
                # The function's own name as a title line: Doxygen knows it.
                line = TITLE.sub(r"\1", line)
            line = PARAM.sub(lambda m: f"{m.group(1)}@param {m.group(2)} ", line)
            line = RETURNS.sub("@return ", line)
            # Any other @name is a parameter named in prose.
            line = MENTION.sub(lambda m: m.group(0) if m.group(1) in KNOWN else f"<tt>{m.group(1)}</tt>", line)
            # A path glob such as "dir/*" would open a nested comment.
            line = line.replace("/*", "/&lowast;") if not line.lstrip().startswith("/*") else line
            # Doxygen reads #name and name() as links; gtk-doc's %NULL as text.
            line = line.replace("%NULL", "NULL")
        if in_doc and "*/" in line:
            in_doc = False
        out.append(line)
    return "".join(out)


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as f:
        sys.stdout.write(convert(f.read()))
