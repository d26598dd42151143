"""A small pool of worker processes under OS limits, where tenant-authored templates render and uploads decode.

Why processes, and why this shape (README, "Limits and isolation"):
- The in-process sandbox (jinja_sandbox.py) is the first wall, but it cannot interrupt work done inside one
  C call (`x in long_list` a hundred thousand times) and cannot survive a native crash (css-inline
  overflowing its stack on HTML nested 20,000 deep). A child process can be killed and replaced, and the
  kernel enforces its limits: RLIMIT_AS (address space), RLIMIT_CPU (CPU seconds per job) and a wall-clock
  deadline after which the parent kills it.
- Each child is a fresh interpreter (child.py) that loads only the rendering and imaging code (about 0.2 s):
  it inherits none of the parent's threads, sockets or database connections (a fork of a threaded web
  process would), and multiprocessing's forkserver was not used because it re-imports the parent's main
  module (gunicorn's, celery's, flask's) in every child. A killed child's successor starts at once, in the
  background, so the next job finds it ready.
- `concurrent.futures.ProcessPoolExecutor` was not used: it cannot kill one job's process on a deadline,
  and a child that dies breaks the whole executor (every pending future fails).
- Children run at a low CPU priority (nice), so a runaway render slows nobody's page: the kernel gives the
  web and worker processes the CPU first.

Jobs go to the child pickled (the parent is trusted); results come back as JSON, so a child that a template
had somehow subverted still cannot make the parent run code by answering.
"""
from __future__ import annotations

import json
import logging
import os
import pickle
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

log = logging.getLogger(__name__)

_CHILD_SCRIPT = Path(__file__).with_name("child.py")
_GATHER_SECONDS = 0.001
_START_SECONDS = 30.0  # a fresh interpreter loading Jinja, css-inline and Pillow, on a busy machine


@dataclass(frozen=True)
class PoolLimits:
    """How many children, and what each may use."""

    workers: int = 2
    memory_bytes: int = 512 * 1024 * 1024  # address space a child may add to what it has after start-up
    nice: int = 19  # the lowest CPU priority: a runaway render waits for everyone else
    jobs_per_child: int = 500  # a child is replaced after this many jobs (bounded memory growth)


class JobFailed(Exception):
    """The child did not answer: it was killed at its deadline, ran out of CPU time, or crashed.

    `reason` is one of "timeout", "memory", "crash"; `signal_number` is the signal that ended it, if any.
    """

    def __init__(self, reason: str, signal_number: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.signal_number = signal_number


class PoolBusy(Exception):
    """No child became free within the wait the caller allowed."""


class _Child:
    """One worker process (child.py) and the two pipes to it."""

    def __init__(self, limits: PoolLimits):
        job_read, job_write = os.pipe()
        answer_read, answer_write = os.pipe()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-I", str(_CHILD_SCRIPT), str(job_read), str(answer_write),
                 str(limits.memory_bytes), str(limits.nice)],
                pass_fds=(job_read, answer_write), stdin=subprocess.DEVNULL,
            )
        finally:
            os.close(job_read)
            os.close(answer_write)
        self.jobs_conn = Connection(job_write, readable=False)
        self.answers = Connection(answer_read, writable=False)
        self.jobs = 0
        self.ready = False

    def wait_ready(self, timeout: float) -> None:
        """The child says it is ready once its code is loaded and its limits set."""
        if self.ready:
            return
        if not self.answers.poll(timeout):
            raise OSError("the sandbox worker did not start in time")
        self.answers.recv_bytes()
        self.ready = True

    def stop(self, kill: bool = False) -> int | None:
        """End the child; returns its exit code (negative: the signal that ended it)."""
        if kill and self.process.poll() is None:
            self.process.kill()
        self.jobs_conn.close()
        self.answers.close()
        try:
            return self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(5)


def _failure_from_exit(exitcode: int | None, timed_out: bool) -> JobFailed:
    if timed_out:
        return JobFailed("timeout", signal.SIGKILL)
    signal_number = -exitcode if exitcode is not None and exitcode < 0 else None
    if signal_number == signal.SIGXCPU:
        return JobFailed("timeout", signal_number)
    if signal_number in (signal.SIGSEGV, signal.SIGBUS):
        return JobFailed("crash", signal_number)
    # Native code that cannot allocate aborts; Python code raises MemoryError (answered as "memory").
    return JobFailed("memory" if signal_number == signal.SIGABRT else "crash", signal_number)


class WorkerPool:
    """Children are started on first use and replaced when one is killed, crashes or has done its jobs."""

    def __init__(self, limits: PoolLimits):
        self.limits = limits
        self._idle: queue.LifoQueue[_Child] = queue.LifoQueue()
        self._started = 0
        self._lock = threading.Lock()
        self._closed = False
        self.pid = os.getpid()

    def _checkout(self, wait: float) -> _Child:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            if self._started < self.limits.workers:
                self._started += 1
                try:
                    return self._start_child()
                except BaseException:
                    self._started -= 1
                    raise
        try:
            return self._idle.get(timeout=wait)
        except queue.Empty:
            raise PoolBusy() from None

    def _start_child(self) -> _Child:
        return _Child(self.limits)

    def _checkin(self, child: _Child) -> None:
        if self._closed or child.jobs >= self.limits.jobs_per_child:
            child.stop()
            self._replace()
            return
        self._idle.put(child)

    def _replace(self) -> None:
        """A child is gone: start its successor now, so the next job does not pay for the start."""
        if self._closed:
            with self._lock:
                self._started -= 1
            return
        try:
            successor = self._start_child()
        except Exception:  # noqa: BLE001 (the next checkout starts one instead)
            log.exception("Could not start a sandbox worker process")
            with self._lock:
                self._started -= 1
            return
        self._idle.put(successor)

    def run(self, kind: str, payloads: list, *, seconds: float, wait: float) -> list[dict | JobFailed]:
        """Run `kind` on each payload in one round trip to one child: the list of their results (dicts), in
        order; if a payload ends the child, the list stops with its JobFailed (the caller decides what to
        run again: the payloads after it may share its cause).

        `seconds` is each payload's budget: the child gets that much CPU time per payload and is killed
        when an answer takes `seconds` + 1 of wall-clock time. Raises PoolBusy when no child is free
        within `wait` seconds.
        """
        results: list[dict | JobFailed] = []
        child = self._checkout(wait)
        failure: JobFailed | None = None
        try:
            child.wait_ready(_START_SECONDS)
            child.jobs_conn.send_bytes(pickle.dumps((kind, payloads, seconds)))
            child.jobs += 1
            while len(results) < len(payloads) and failure is None:
                if not child.answers.poll(seconds + 1.0):
                    failure = _failure_from_exit(child.stop(kill=True), timed_out=True)
                    break
                while len(results) < len(payloads) and child.answers.poll(0):
                    result = json.loads(child.answers.recv_bytes())
                    if result.get("failed"):
                        # The child caught a MemoryError: it answered, but its heap may be fragmented.
                        failure = JobFailed(result["failed"])
                        child.stop(kill=True)
                        break
                    results.append(result)
                if failure is None and len(results) < len(payloads):
                    # Let the next answers gather in the pipe: a child whose every answer wakes a waiting
                    # reader spends a third of a short render on the wake-ups (bench/bench_delivery.py).
                    time.sleep(_GATHER_SECONDS)
        except (EOFError, OSError):
            failure = _failure_from_exit(child.stop(kill=True), timed_out=False)
        except BaseException:
            child.stop(kill=True)
            self._replace()
            raise
        if failure is None:
            self._checkin(child)
            return results
        self._replace()
        log.warning("Sandbox %s job ended its worker (%s, signal %s)", kind, failure.reason, failure.signal_number)
        results.append(failure)
        return results

    def close(self) -> None:
        self._closed = True
        while True:
            try:
                child = self._idle.get_nowait()
            except queue.Empty:
                return
            child.stop()


_pool: WorkerPool | None = None
_pool_lock = threading.Lock()


def shared_pool(limits: PoolLimits) -> WorkerPool:
    """This process's pool (one per process: a forked web or Celery worker gets its own)."""
    global _pool
    pool = _pool
    if pool is not None and pool.pid == os.getpid() and pool.limits == limits:
        return pool
    with _pool_lock:
        if _pool is not None and (_pool.pid != os.getpid() or _pool.limits != limits):
            if _pool.pid == os.getpid():
                _pool.close()
            _pool = None
        if _pool is None:
            _pool = WorkerPool(limits)
        return _pool


def _forget_inherited_pool() -> None:
    # A forked process must not talk to its parent's children through inherited pipes.
    global _pool
    _pool = None


os.register_at_fork(after_in_child=_forget_inherited_pool)

