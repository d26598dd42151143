"""Benchmark: the store inbox, the thread page and the live stream's connect served through gunicorn and
driven by wrk, next to the floor app (bench/floor_app.py: a bare WSGI function with the inbox's one
hand-written query and 25 rows of escaped HTML) served the same way.

Runs on the 1,000,000-message database of bench/bench_inbox.py (database <prefix>_large; build it once with
`BENCH_SCALE=large .venv/bin/python bench/bench_inbox.py`). The app runs as in production (MESSAGING_ENV=
production, JSON logs, CSRF on); the account signs in through the real login form and wrk sends its session
cookie. The pages and the floor run under the same gunicorn (2 sync workers), measured alternately, round
after round, so that whatever else the machine does hits them alike; the ratio of each round is taken to its
own floor measurement and the median reported. The stream's connect (time to the first byte of a new stream)
is measured on a second app server with gevent workers, as production serves streams (gunicorn.conf.py).

    /work/main/.venv/bin/python bench/bench_http.py
    BENCH_HTTP_ROUNDS=5 BENCH_HTTP_SECONDS=10 BENCH_HTTP_CONNECTIONS=16 ...

Targets (issue 17): store inbox >= 0.35x the floor app's requests/s, thread page >= 0.3x.
"""
from __future__ import annotations

import http.client
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
BASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/conv_bench")
DATABASE_URL = sa.make_url(BASE_URL).set(database=f"{sa.make_url(BASE_URL).database}_large")
ROUNDS = int(os.environ.get("BENCH_HTTP_ROUNDS", "3"))
SECONDS = int(os.environ.get("BENCH_HTTP_SECONDS", "10"))
CONNECTIONS = int(os.environ.get("BENCH_HTTP_CONNECTIONS", "16"))
THREADS = int(os.environ.get("BENCH_HTTP_THREADS", "2"))
WORKERS = int(os.environ.get("BENCH_HTTP_WORKERS", "2"))
STREAMS = int(os.environ.get("BENCH_HTTP_STREAMS", "200"))  # new streams opened one after the other
PASSWORD = "bench-password"  # bench_inbox.py's
EMAIL, SLUG = "team1@store-1.test", "store-1"
TARGETS = {"store_inbox": 0.35, "thread_small": 0.3, "thread_big": 0.3}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def app_environment(work: Path) -> dict[str, str]:
    from cryptography.fernet import Fernet

    return {
        **os.environ,
        "MESSAGING_ENV": "production", "SECRET_KEY": secrets.token_urlsafe(32),
        "MESSAGING_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DATABASE_URL": DATABASE_URL.render_as_string(hide_password=False),
        "SESSION_COOKIE_SECURE": "0",  # plain HTTP on this machine
        "MESSAGING_INSTANCE_DIR": str(work / "instance"), "UPLOAD_DIR": str(work / "uploads"),
        "LIVE_BUS_URL": os.environ.get("BENCH_LIVE_BUS_URL", "redis://127.0.0.1:6379/7"),
        "FLOOR_DATABASE_URL": DATABASE_URL.set(drivername="postgresql").render_as_string(hide_password=False),
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
    }


class Server:
    """One gunicorn, started from a scratch directory (so that the project's gunicorn.conf.py is not read)."""

    def __init__(self, name: str, app: str, worker_class: str, env: dict, work: Path):
        self.name, self.worker_class, self.port = name, worker_class, free_port()
        self.log = open(work / f"{name}.log", "wb")  # noqa: SIM115  (closed in stop)
        self.process = subprocess.Popen(
            [str(BIN / "gunicorn"), "--workers", str(WORKERS), "--worker-class", worker_class,
             "--bind", f"127.0.0.1:{self.port}", "--pythonpath", f"{ROOT},{ROOT / 'bench'}", "--log-level", "warning",
             app],
            cwd=work, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"{name} did not start, see {self.log.name}") from None
                time.sleep(0.2)
        raise RuntimeError(f"{name} did not start in time")

    def request(self, method: str, path: str, body: str | None = None, headers: dict | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        conn.close()
        return response, data

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def sign_in(server: Server) -> str:
    """The session cookie of the store's team member, through the real login form (CSRF token and all)."""
    response, page = server.request("GET", f"/store/{SLUG}/login")
    assert response.status == 200, response.status
    cookie = _session_cookie(response)
    token = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert token is not None, "no CSRF token on the login page"
    form = urlencode({"csrf_token": token.group(1).decode(), "email": EMAIL, "password": PASSWORD})
    response, _ = server.request("POST", f"/store/{SLUG}/login", body=form, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie,
    })
    assert response.status == 302, f"sign-in failed: {response.status}"
    return _session_cookie(response)


def _session_cookie(response) -> str:
    for header in response.headers.get_all("Set-Cookie") or []:
        if header.startswith("session="):
            return header.split(";", 1)[0]
    raise AssertionError("no session cookie")


def wrk(server: Server, path: str, cookie: str | None) -> dict:
    command = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--latency"]
    if cookie:
        command += ["-H", f"Cookie: {cookie}"]
    out = subprocess.run([*command, f"http://127.0.0.1:{server.port}{path}"], capture_output=True, text=True,
                         check=True).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    assert errors is None, f"{path}: {errors.group(1)} error responses\n{out}"
    rate_match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert rate_match is not None, out
    rate = float(rate_match.group(1))
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)\b", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    return {"rps": rate, "p50_ms": _ms(p50), "p99_ms": _ms(p99)}


def _ms(match) -> float:
    if match is None:
        return float("nan")
    return float(match.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)]


def stream_connects(server: Server, cookie: str, thread_id: int) -> dict | None:
    """Time to the first byte of a new stream of the thread, STREAMS times one after the other; None when
    the app has no stream endpoint."""
    path = f"/store/{SLUG}/conversations/live?conversation={thread_id}"
    times: list[float] = []
    for _ in range(STREAMS + 5):
        start = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        conn.request("GET", path, headers={"Cookie": cookie, "Accept": "text/event-stream"})
        response = conn.getresponse()
        if response.status == 404 and not times:
            conn.close()
            return None
        assert response.status == 200, response.status
        assert response.headers.get("Content-Type", "").startswith("text/event-stream")
        response.read1(1)  # the first byte of the body: the stream is open and has sent its catch-up
        times.append(time.perf_counter() - start)
        conn.close()
    times = times[5:]  # warm-up
    ordered = sorted(times)
    return {"p50_ms": statistics.median(times) * 1000, "p95_ms": ordered[int(0.95 * (len(ordered) - 1))] * 1000,
            "per_s": len(times) / sum(times)}


def main() -> None:
    engine = sa.create_engine(DATABASE_URL)
    try:
        with engine.connect() as conn:
            row = conn.execute(sa.text(
                "SELECT (SELECT id FROM conversations WHERE subject = 'big thread'),"
                " (SELECT id FROM conversations WHERE subject = 'small thread'), (SELECT count(*) FROM messages)"
            )).one()
            big, small, messages = int(row[0]), int(row[1]), int(row[2])
    except sa.exc.OperationalError:
        sys.exit(f"No database {DATABASE_URL.database}: build it with BENCH_SCALE=large bench/bench_inbox.py")
    finally:
        engine.dispose()
    work = Path(tempfile.mkdtemp(prefix="bench-http-"))
    env = app_environment(work)
    servers = [
        Server("app", "wsgi:app", "sync", env, work),
        Server("floor", "floor_app:app", "sync", env, work),
    ]
    app, floor = servers
    try:
        cookie = sign_in(app)
        pages = {
            "store_inbox": f"/store/{SLUG}/conversations/",
            "thread_small": f"/store/{SLUG}/conversations/{small}",
            "thread_big": f"/store/{SLUG}/conversations/{big}",
        }
        for key, path in pages.items():  # the real pages, signed in, before anything is timed
            response, body = app.request("GET", path, headers={"Cookie": cookie})
            assert response.status == 200, (key, response.status)
            assert (b'id="inbox-row-' in body) if key == "store_inbox" else (b'id="message-' in body), key
        response, body = floor.request("GET", "/")
        assert response.status == 200 and body.count(b'id="inbox-row-') == 25
        for path in pages.values():  # warm-up: templates compiled, statements prepared, buffers hot
            subprocess.run(["wrk", "-t1", "-c2", "-d2s", "-H", f"Cookie: {cookie}",
                            f"http://127.0.0.1:{app.port}{path}"], capture_output=True, check=True)
        subprocess.run(["wrk", "-t1", "-c2", "-d2s", f"http://127.0.0.1:{floor.port}/"], capture_output=True, check=True)

        results: dict[str, list[dict]] = {key: [] for key in [*pages, "floor"]}
        ratios: dict[str, list[float]] = {key: [] for key in pages}
        for _ in range(ROUNDS):
            for key, path in pages.items():
                page = wrk(app, path, cookie)
                base = wrk(floor, "/", None)
                results[key].append(page)
                results["floor"].append(base)
                ratios[key].append(page["rps"] / base["rps"])
        for server in servers:
            server.stop()
        servers = []

        streams = Server("app-gevent", "wsgi:app", "gevent", env, work)
        servers = [streams]
        try:
            stream: dict | str | None = stream_connects(streams, sign_in(streams), small)
        except (AssertionError, OSError) as exc:  # the stream endpoint is new: say what failed, keep the figures
            stream = f"failed ({exc!r}), see {streams.log.name}"
    finally:
        for server in servers:
            server.stop()

    print(f"\n== bench_http: {messages:,} messages ({DATABASE_URL.database}), gunicorn {WORKERS} sync workers for "
          f"the pages and the floor app; wrk -t{THREADS} -c{CONNECTIONS} -d{SECONDS}s, {ROUNDS} rounds, app and floor "
          f"alternately; load average at the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    floor_rps = statistics.median(r["rps"] for r in results["floor"])
    print(f"   {'':<14}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'x floor':>9}   target")
    print(f"   {'floor app':<14}{floor_rps:>9.0f}"
          f"{statistics.median(r['p50_ms'] for r in results['floor']):>9.2f}"
          f"{statistics.median(r['p99_ms'] for r in results['floor']):>9.2f}{1:>9.2f}")
    for key in pages:
        rows, ratio = results[key], statistics.median(ratios[key])
        verdict = "met" if ratio >= TARGETS[key] else "NOT met"
        print(f"   {key:<14}{statistics.median(r['rps'] for r in rows):>9.0f}"
              f"{statistics.median(r['p50_ms'] for r in rows):>9.2f}{statistics.median(r['p99_ms'] for r in rows):>9.2f}"
              f"{ratio:>9.2f}   >= {TARGETS[key]}x: {verdict} (rounds: {', '.join(f'{x:.2f}' for x in ratios[key])})")
    if isinstance(stream, str):
        print(f"   stream connect: {stream}")
    elif stream is None:
        print("   stream connect: TODO, the app has no live stream endpoint yet "
              f"(/store/{SLUG}/conversations/live answered 404)")
    else:
        print(f"   stream connect (gunicorn {WORKERS} gevent workers, {STREAMS} new streams one after the other, "
              f"time to the first byte): p50 {stream['p50_ms']:.2f} ms, p95 {stream['p95_ms']:.2f} ms, "
              f"{stream['per_s']:.0f} connects/s")


if __name__ == "__main__":
    main()
