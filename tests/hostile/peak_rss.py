#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Runs a command and writes its peak resident size.

Usage: peak_rss.py OUT-FILE COMMAND [ARG]...

COMMAND gets this process's standard streams; OUT-FILE gets its peak
resident size in KiB (getrusage of the waited child: the largest of the
command and its own waited-for children); the exit status is COMMAND's.

Why a process of its own: a child's peak resident size starts from its
parent's size at fork time (the kernel carries it across exec), so a
command started straight from a test that holds NumPy arrays or PyTorch
would be charged with the test's memory.  This small interpreter is the
parent instead.
"""

import os
import subprocess
import sys

p = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(p.pid, 0)
with open(sys.argv[1], "w") as f:
    f.write(f"{usage.ru_maxrss}\n")
sys.exit(os.waitstatus_to_exitcode(status))
