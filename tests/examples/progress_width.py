#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# fashion_mnist train's progress bar on a pseudo-terminal of 80 (and 40) columns: every line it draws fits in
# the width minus one column, so the terminal never wraps it; and with stderr not a terminal, no bar at all.
"""Usage: progress_width.py FASHION_MNIST_BINARY. Exit 0 pass, 1 fail, 77 skip (no Fashion-MNIST files)."""
import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios

RUN = ["train", "--limit", "1024", "--epochs", "2", "--batch", "16", "--threads", "1"]
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def on_terminal(binary, columns):
    """Runs with stderr on a pseudo-terminal `columns` wide; returns what the terminal received."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = dict(os.environ)
    env.pop("COLUMNS", None)  # the width must come from the terminal itself
    p = subprocess.Popen([binary, *RUN], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    p.communicate(timeout=600)
    os.close(master)
    check(p.returncode == 0, f"training with stderr on a {columns}-column terminal succeeds")
    return b"".join(chunks).decode("utf-8", "replace")


def main():
    binary = sys.argv[1]
    data = os.environ.get("FUSENET_DATA") or "/usr/share/datasets/fashion-mnist"
    if not os.path.isdir(data):
        print(f"skipped: {data} is absent (apt-get install dataset-fashion-mnist)")
        return 77
    for columns in (80, 40):
        text = on_terminal(binary, columns)
        # Each redraw starts with '\r'; the terminal's line discipline turns '\n' into "\r\n".
        segments = [s for line in text.split("\n") for s in line.split("\r")]
        bars = [s for s in segments if s.startswith("epoch ") and "/64" in s]
        check(len(bars) >= 2, f"{columns} columns: the bar is drawn ({len(bars)} redraws)")
        widest = max((len(s) for s in segments), default=0)
        check(widest <= columns - 1, f"{columns} columns: no line is wider than {columns - 1} (widest {widest})")
        check(all(len(s) == columns - 1 for s in bars), f"{columns} columns: each redraw fills {columns - 1} columns")
        if columns == 80:
            check(any("[" in s and "#" in s for s in bars), "80 columns: the bar shows progress")
            check(any(s.startswith("epoch 2/2 ") for s in bars), "the second epoch has its own bar")
    p = subprocess.run([binary, *RUN], capture_output=True, text=True, timeout=600)
    check(p.returncode == 0 and "\r" not in p.stderr and "[" not in p.stderr, "stderr not a terminal: no bar")
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
