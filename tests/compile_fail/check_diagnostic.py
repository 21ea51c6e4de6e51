#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Runs a compiler on a compile_fail case and checks the diagnostic: the compile must fail, stderr must
# contain every "// expect: <text>" of the file's leading comment, and exactly one "error:" line may appear
# (STYLE.md §1.3: one mistake, one error); and no non-ASCII text in it, which clang prints as octal escapes.
#
# Usage: check_diagnostic.py CASE.cpp COMPILER [FLAGS...]     (CASE.cpp is appended to the command)
#        check_diagnostic.py CASE.cpp --via WRAPPER.cpp COMPILER [FLAGS...]
#        (compiles WRAPPER.cpp with `-include CASE.cpp`, e.g. model_variant.cpp; the directives are CASE.cpp's)
# A leading "// known-issue: <compiler name>: <why>" line makes the check report SKIP (exit 77) for a compiler
# whose command names <compiler name>, so a known front-end limitation stays visible without failing the suite.
import os
import re
import subprocess
import sys

SKIP = 77


def directives(path):
    expects, known = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.startswith("//"):
                break
            body = line[2:].strip()
            if body.startswith("expect:"):
                expects.append(body[len("expect:"):].strip())
            elif body.startswith("known-issue:"):
                name, _, why = body[len("known-issue:"):].strip().partition(":")
                known.append((name.strip(), why.strip()))
    return expects, known


def main(argv):
    if len(argv) < 3:
        print(__doc__ or "usage: check_diagnostic.py CASE.cpp COMPILER [FLAGS...]", file=sys.stderr)
        return 2
    source, command = argv[1], argv[2:]
    compiled = [source]
    if command[:1] == ["--via"]:
        compiled = ["-include", source, command[1]]
        command = command[2:]
    expects, known = directives(source)
    if not expects:
        print(f"{source}: no '// expect:' line; nothing to check", file=sys.stderr)
        return 1
    compiler_name = os.path.basename(command[-1] if command[0].endswith("ccache") else command[0])
    for name, why in known:
        if name in " ".join(os.path.basename(c) for c in command):
            print(f"SKIP {source} with {compiler_name}: known issue: {why}")
            return SKIP

    result = subprocess.run(command + compiled, capture_output=True, text=True, errors="replace")
    stderr = result.stderr
    problems = []
    if result.returncode == 0:
        problems.append("the compile succeeded, but the file holds a mistake")
    for text in expects:
        if text not in stderr:
            problems.append(f"stderr lacks the expected text: {text!r}")
    errors = [line for line in stderr.splitlines() if re.search(r"\berror:", line)]
    if len(errors) != 1:
        problems.append(f"expected exactly one 'error:' line, got {len(errors)}")
    # clang prints non-ASCII bytes of a static_assert message as octal escapes (the x sign as \303\227), so
    # compiler-facing text is ASCII: "16x4x4", not "16×4×4".
    escaped = re.search(r"(\\[0-7]{3}){2,}", stderr)
    if escaped:
        problems.append(f"the message holds non-ASCII text, printed as {escaped.group(0)}; write ASCII (x, not ×)")
    if problems:
        print(f"FAIL {source} with {compiler_name}:", file=sys.stderr)
        for p in problems:
            print("  - " + p, file=sys.stderr)
        print("---- error lines ----", file=sys.stderr)
        for line in errors[:10]:
            print(line[:400], file=sys.stderr)
        print("---- stderr (first 60 lines) ----", file=sys.stderr)
        print("\n".join(stderr.splitlines()[:60]), file=sys.stderr)
        return 1
    print(f"ok {source} with {compiler_name}: {errors[0][:300]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
