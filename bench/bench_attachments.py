"""Benchmark: how long checking an upload (type from content, image decode and thumbnail in a sandbox worker)
and storing it take.

Run: /work/main/.venv/bin/python bench/bench_attachments.py
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from messaging_web.services.attachment_storage import LocalStorage  # noqa: E402
from messaging_web.services.attachments import Upload, UploadLimits, check_uploads  # noqa: E402
from tests import sample_files  # noqa: E402


def timed(fn, runs: int) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.95))]


def main() -> None:
    limits = UploadLimits()
    cases = [
        ("JPEG 4000x3000 (12 MP photo)", "photo.jpg", sample_files.image("JPEG", size=(4000, 3000)), 10),
        ("PNG 2000x1500", "screen.png", sample_files.image("PNG", size=(2000, 1500)), 10),
        ("WebP 1600x1200", "pic.webp", sample_files.image("WEBP", size=(1600, 1200)), 10),
        ("PDF 5 MB", "doc.pdf", sample_files.pdf() + b"%" * (5 * 1024 * 1024), 20),
        ("CSV 2 MB", "orders.csv", b"order,total\n" + b"1001,19.90\n" * 190_000, 20),
        ("DOCX", "letter.docx", sample_files.ooxml("docx"), 50),
        ("PNG bomb 30000x30000 (refused)", "bomb.png", sample_files.png_header_bomb(30_000, 30_000), 20),
    ]
    print(f"{'case':38} {'bytes':>10} {'p50 ms':>8} {'p95 ms':>8}")
    for label, name, data, runs in cases:
        def run(name=name, data=data):
            try:
                check_uploads([Upload.from_bytes(name, data)], limits)
            except Exception:  # the bomb is refused; that is what is timed
                pass

        p50, p95 = timed(run, runs)
        print(f"{label:38} {len(data):>10} {p50:>8.1f} {p95:>8.1f}")

    storage = LocalStorage(tempfile.mkdtemp(prefix="bench-attachments-"))
    payload = b"x" * (5 * 1024 * 1024)
    counter = iter(range(10**9))
    p50, p95 = timed(lambda: storage.save(f"2026/01/{next(counter)}.pdf", payload, "application/pdf"), 20)
    print(f"{'local storage save 5 MB':38} {len(payload):>10} {p50:>8.1f} {p95:>8.1f}")


if __name__ == "__main__":
    main()
