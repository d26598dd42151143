"""A sandbox worker process: runs render and image jobs for pool.py until its pipe closes.

Started as `python -I child.py <job fd> <answer fd> <address space bytes> <nice>` (a fresh interpreter, so it
inherits no thread, socket or database connection of the web process, and loads only the rendering and
imaging code beside this file). Every limit is set before the first job.
"""
import json
import math
import os
import pickle
import resource
import signal
import sys
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

if TYPE_CHECKING:  # the same modules, as mypy finds them in the package
    from . import images, rendering
else:
    import images  # noqa: E402
    import rendering  # noqa: E402

JOBS = {"render": rendering.render_payload, "images": images.inspect_message_images}


def _virtual_memory_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def main(job_fd: int, answer_fd: int, memory_bytes: int, nice: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C in the terminal is for the parent
    jobs = Connection(job_fd, writable=False)
    answers = Connection(answer_fd, readable=False)
    os.nice(nice)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # Hard and soft alike, so that nothing running here can raise it again.
    ceiling = _virtual_memory_bytes() + memory_bytes
    resource.setrlimit(resource.RLIMIT_AS, (ceiling, ceiling))
    _, cpu_hard = resource.getrlimit(resource.RLIMIT_CPU)
    answers.send_bytes(b'{"ready": true}')
    while True:
        try:
            kind, payloads, cpu_seconds = pickle.loads(jobs.recv_bytes())
        except EOFError:
            return
        for payload in payloads:
            # RLIMIT_CPU counts the process's whole life: each job gets its seconds on top of what was used.
            usage = resource.getrusage(resource.RUSAGE_SELF)
            soft = math.ceil(usage.ru_utime + usage.ru_stime + cpu_seconds)
            resource.setrlimit(resource.RLIMIT_CPU, (soft, cpu_hard))
            try:
                answer = json.dumps(JOBS[kind](payload))
            except MemoryError:
                answer = '{"failed": "memory"}'
            answers.send_bytes(answer.encode())


if __name__ == "__main__":
    main(*(int(value) for value in sys.argv[1:5]))
