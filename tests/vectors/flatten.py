#!/usr/bin/env python3
"""Flattens a Wycheproof JSON file into one line per test case for the C test harness.

Each line is space-separated key=value pairs: the test's own fields (tcId, result, key, iv, msg,
...), then the group's scalar fields prefixed with "g_" (nested objects flattened with '.',
e.g. g_publicKey.uncompressed). Values that contain white space (comments, PEM text) are left
out; lists are joined with ','. The C side reads it with tests/common/vectors.h."""
import json
import sys


def scalars(prefix, obj, out):
    for k, v in obj.items():
        if k in ("tests", "comment", "source"):
            continue
        name = prefix + k
        if isinstance(v, dict):
            scalars(name + ".", v, out)
        elif isinstance(v, list):
            if all(isinstance(x, str) and not any(c.isspace() for c in x) for x in v):
                out.append((name, ",".join(v)))
        else:
            s = str(v)
            if s and not any(c.isspace() for c in s):
                out.append((name, s))
            elif s == "":
                out.append((name, ""))


def main(src, dst):
    with open(src) as f:
        doc = json.load(f)
    lines = []
    for group in doc["testGroups"]:
        gfields = []
        scalars("g_", group, gfields)
        for t in group["tests"]:
            fields = []
            scalars("", t, fields)
            lines.append(" ".join(f"{k}={v}" for k, v in fields + gfields))
    with open(dst, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
