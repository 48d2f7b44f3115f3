"""Run a command and write ``"<exit code> <peak RSS in KiB>"`` of it to a file.

Usage: ``python measure.py OUT_FILE COMMAND...``. The corpus starts this small
launcher instead of the CLI itself because on Linux a process's peak RSS starts
at the peak of the memory image it was exec'ed from: a CLI started straight from
the pytest process would report pytest's own peak (hundreds of MB late in a
suite). The launcher is a fresh, small interpreter, so what ``os.wait4`` says of
its child is the child's own peak (and its reaped children's).
"""
import os
import subprocess
import sys

if __name__ == "__main__":
    out_file, command = sys.argv[1], sys.argv[2:]
    proc = subprocess.Popen(command)
    _, status, usage = os.wait4(proc.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    with open(out_file, "w") as handle:
        handle.write(f"{code} {usage.ru_maxrss}\n")
    sys.exit(code if code >= 0 else 128 - code)
