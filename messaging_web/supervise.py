"""Keep one process running: `python -m messaging_web.supervise COMMAND [ARGS...]`.

What systemd's `Restart=always` does in production, for `make stack`: honcho stops the whole Procfile when
any one process exits, so a Celery worker that dies (an unrecoverable broker error, an OOM kill, `kill -9`)
would take the web server down with it. Here the command is started again after a pause that doubles while
it keeps dying at once (1 s up to 30 s) and is reset once it has run for a minute. SIGTERM and SIGINT are
passed on to the command, and then the supervisor exits with it instead of restarting it.
"""
from __future__ import annotations

import signal
import subprocess
import sys
import time

FIRST_PAUSE, LONGEST_PAUSE, STEADY_AFTER = 1.0, 30.0, 60.0


def supervise(command: list[str]) -> int:
    stopping = False
    child: subprocess.Popen | None = None

    def pass_on(signum, _frame):
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, pass_on)
    signal.signal(signal.SIGINT, pass_on)
    pause = FIRST_PAUSE
    while True:
        started = time.monotonic()
        child = subprocess.Popen(command)
        code = child.wait()
        if code < 0:  # killed by a signal: the shell's convention, 128 + its number
            code = 128 - code
        if stopping:
            return code
        ran = time.monotonic() - started
        if ran > STEADY_AFTER:
            pause = FIRST_PAUSE
        print(f"supervise: {command[0]} exited with {code} after {ran:.0f} s; starting it again in {pause:.0f} s",
              file=sys.stderr, flush=True)
        deadline = time.monotonic() + pause
        while not stopping and time.monotonic() < deadline:
            time.sleep(0.1)
        if stopping:
            return code
        pause = min(pause * 2, LONGEST_PAUSE)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: python -m messaging_web.supervise COMMAND [ARGS...]")
    sys.exit(supervise(sys.argv[1:]))
