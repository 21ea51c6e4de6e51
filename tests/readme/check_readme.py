#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# README.md's first C++ code block must equal the region of examples/quickstart.cpp between "// [readme]" and
# "// [/readme]": the example builds and runs as a test, so README's code compiles as it stands (STYLE.md §1.5).
#
# Usage: check_readme.py README.md examples/quickstart.cpp
import difflib
import sys


def readme_block(path):
    lines = open(path, encoding="utf-8").read().split("\n")
    start = lines.index("```cpp") + 1
    end = lines.index("```", start)
    return lines[start:end]


def marked_region(path):
    lines = open(path, encoding="utf-8").read().split("\n")
    start = lines.index("// [readme]") + 1
    end = lines.index("// [/readme]", start)
    return lines[start:end]


def main(argv):
    readme, source = argv[1], argv[2]
    block, region = readme_block(readme), marked_region(source)
    if block == region:
        print(f"{readme}: the first code block equals {source}'s readme region ({len(block)} lines)")
        return 0
    sys.stdout.writelines(difflib.unified_diff([l + "\n" for l in region], [l + "\n" for l in block],
                                               fromfile=source, tofile=readme))
    print(f"{readme}: the first code block differs from {source}'s readme region; copy the region over",
          file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
