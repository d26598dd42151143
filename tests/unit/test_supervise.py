"""The make-stack supervisor: a process that dies is started again; a stop request stops it for good."""
from __future__ import annotations

import signal
import subprocess
import sys
import time


def test_a_command_that_dies_is_started_again_and_sigterm_stops_it(tmp_path):
    runs = tmp_path / "runs"
    # Each run notes itself, then the first two die at once; the third stays up until told to stop.
    script = ("import pathlib, sys, time; p = pathlib.Path(sys.argv[1]); n = len(p.read_text()) if p.exists() else 0; "
              "p.write_text('x' * (n + 1)); sys.exit(3) if n < 2 else time.sleep(60)")
    supervisor = subprocess.Popen([sys.executable, "-m", "messaging_web.supervise", sys.executable, "-c", script,
                                   str(runs)], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not (runs.exists() and len(runs.read_text()) == 3):
        time.sleep(0.1)
    assert runs.exists() and len(runs.read_text()) == 3
    time.sleep(0.3)
    supervisor.send_signal(signal.SIGTERM)
    code = supervisor.wait(10)
    assert code == 128 + signal.SIGTERM  # the command's own end, passed on
    assert supervisor.stderr.read().count("exited with 3") == 2
    time.sleep(1.5)
    assert len(runs.read_text()) == 3  # not started again after the stop
