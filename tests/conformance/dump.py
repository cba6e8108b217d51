#!/usr/bin/env python3
"""Reference dump of BuildKit's Dockerfile parser for the conformance test.

Input: Dockerfile paths on the command line. Uses the PyPI package `dockerfile` 3.4.0 (a
binary wheel wrapping BuildKit v0.12.5's frontend/dockerfile/parser; set up by
scripts/setup.sh into .venv-conformance).
Output (stdout): one JSON object mapping each path, as given, to its dump: either the list of
instructions, each {cmd, sub_cmd, json, original, start_line, end_line, flags, value,
heredocs: [{name, fd, content}]}, or {"error": message} when BuildKit's parser rejects it.
Invariant: the fields are the package's Command/Heredoc fields unchanged (only renamed:
file_descriptor -> fd, tuples -> lists); every mapping between this shape and the planner's
dump_json lives in tests/it/conformance.rs (`to_reference_shape`).
"""

import json
import sys

import dockerfile


def dump(path):
    """The reference dump of one file: a list of instructions or {"error": ...}."""
    try:
        commands = dockerfile.parse_file(path)
    except dockerfile.GoParseError as err:
        return {"error": str(err)}
    return [
        {
            "cmd": c.cmd,
            "sub_cmd": c.sub_cmd,
            "json": c.json,
            "original": c.original,
            "start_line": c.start_line,
            "end_line": c.end_line,
            "flags": list(c.flags),
            "value": list(c.value),
            "heredocs": [
                {"name": h.name, "fd": h.file_descriptor, "content": h.content}
                for h in c.heredocs
            ],
        }
        for c in commands
    ]


def main(argv):
    if len(argv) < 2:
        print("usage: dump.py DOCKERFILE...", file=sys.stderr)
        return 2
    result = {}
    for path in argv[1:]:
        try:
            result[path] = dump(path)
        except dockerfile.GoIOError as err:
            print(f"dump.py: cannot read {path}: {err}", file=sys.stderr)
            return 1
    json.dump(result, sys.stdout, indent=1, sort_keys=True, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
