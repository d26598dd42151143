"""Isolated rendering and image decoding: the entry points, and the pool's limits from configuration.

Every render of a template that a tenant or an admin wrote, and every decode of an uploaded image, runs in
a worker process of pool.py (the second wall, after the Jinja sandbox of jinja_sandbox.py). Callers use
`run_renders` and `inspect_images`; templates.py and attachments.py turn a failed job into the user's words.
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor

from flask import current_app, has_app_context

from .pool import JobFailed, PoolBusy, PoolLimits, shared_pool

__all__ = ["JobFailed", "PoolBusy", "PoolLimits", "inspect_images", "run_renders", "settings", "submit_renders"]

# The same defaults as config.py, for callers outside an application (benchmarks, the first tests).
DEFAULTS = {
    "SANDBOX_WORKERS": 2,
    "SANDBOX_MEMORY_MB": 512,
    "SANDBOX_NICE": 19,
    "SANDBOX_IMAGE_SECONDS": 5.0,
    "SANDBOX_WAIT_SECONDS": 2.0,
    "SANDBOX_BACKGROUND_WAIT_SECONDS": 120.0,
}


def settings() -> dict:
    config = current_app.config if has_app_context() else {}
    return {key: config.get(key, default) for key, default in DEFAULTS.items()}


def _pool(values: dict):
    return shared_pool(PoolLimits(
        workers=max(1, int(values["SANDBOX_WORKERS"])),
        memory_bytes=int(values["SANDBOX_MEMORY_MB"]) * 1024 * 1024,
        nice=int(values["SANDBOX_NICE"]),
    ))


def _render_pool(background: bool):
    """The pool, and how long a render waits for a free worker (longer in the background)."""
    values = settings()
    return _pool(values), float(values["SANDBOX_BACKGROUND_WAIT_SECONDS" if background else "SANDBOX_WAIT_SECONDS"])


# A batch at least this long is split between the workers, which render their parts at the same time.
_SPLIT_AT = 16


def run_renders(payloads: list[dict], *, seconds: float, background: bool = False) -> list[dict | JobFailed]:
    """Render each payload (see rendering.render_payload) in the workers, one round trip per worker: the
    answers in order, stopping at a JobFailed if a payload ended its worker (the caller runs the rest again)."""
    pool, wait = _render_pool(background)
    parts = min(pool.limits.workers, len(payloads) // (_SPLIT_AT // 2)) if len(payloads) >= _SPLIT_AT else 1
    if parts <= 1:
        return pool.run("render", payloads, seconds=seconds, wait=wait)
    size = -(-len(payloads) // parts)
    chunks = [payloads[start:start + size] for start in range(0, len(payloads), size)]
    with ThreadPoolExecutor(max_workers=len(chunks), thread_name_prefix="sandbox-batch") as executor:
        answered = list(executor.map(lambda chunk: pool.run("render", chunk, seconds=seconds, wait=wait), chunks))
    results: list[dict | JobFailed] = []
    for chunk, answers in zip(chunks, answered, strict=True):
        results.extend(answers)
        if len(answers) < len(chunk) or (answers and isinstance(answers[-1], JobFailed)):
            break  # what follows the failure is run again by the caller
    return results


def submit_renders(payloads: list[dict], *, seconds: float, background: bool = False) -> Future:
    """run_renders of `payloads` in one worker, waited for by a thread of this process while the caller goes on:
    the future's result is run_renders' answer (or its PoolBusy). Several submitted at once keep every worker
    busy, one batch each."""
    pool, wait = _render_pool(background)  # read here: the waiting thread has no application context
    return _waiting_threads(pool.limits.workers).submit(pool.run, "render", payloads, seconds=seconds, wait=wait)


_waiters: tuple[int, int, ThreadPoolExecutor] | None = None  # (pid, threads, executor)
_waiters_lock = threading.Lock()


def _waiting_threads(count: int) -> ThreadPoolExecutor:
    """One thread per worker, for this process (a forked process starts its own)."""
    global _waiters
    with _waiters_lock:
        if _waiters is None or _waiters[0] != os.getpid() or _waiters[1] != count:
            _waiters = (os.getpid(), count, ThreadPoolExecutor(max_workers=count, thread_name_prefix="sandbox-wait"))
        return _waiters[2]


def inspect_images(payload: dict) -> dict | JobFailed:
    """Sizes and thumbnails of one message's images (see images.inspect_message_images), in a worker."""
    values = settings()
    [result] = _pool(values).run("images", [payload], seconds=float(values["SANDBOX_IMAGE_SECONDS"]),
                                 wait=float(values["SANDBOX_WAIT_SECONDS"]))
    return result
