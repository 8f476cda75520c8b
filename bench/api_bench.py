"""API latencies through a real server process and Runway's SDK.

Prints a table and writes bench/results/api.json:
- avatar create -> READY (image processing), p50/p95
- realtime session create -> READY (scheduler), p50/p95
- GET /v1/avatars/{id} round trip, p50/p95, and requests per second from one client

Usage: .venv/bin/python bench/api_bench.py [--runs 20] [--database-url postgresql://...]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from runwayml import RunwayML  # noqa: E402
from tests.support.media import face_data_uri  # noqa: E402
from tests.support.server import API_KEY, Server  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summarize(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(values) * 1000, 1),
        "p95_ms": round(percentile(values, 95) * 1000, 1),
        "n": len(values),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp), args.database_url).start()
        try:
            client = RunwayML(base_url=server.base_url, api_key=API_KEY, max_retries=0)
            image = face_data_uri()
            avatar_ready: list[float] = []
            avatar_id = ""
            for _ in range(max(3, args.runs // 4)):
                start = time.perf_counter()
                avatar = client.avatars.create(
                    name="Bench",
                    reference_image=image,
                    personality="p",
                    voice={"type": "runway-live-preset", "preset_id": "clara"},
                )
                while client.avatars.retrieve(avatar.id).status == "PROCESSING":
                    time.sleep(0.01)
                avatar_ready.append(time.perf_counter() - start)
                avatar_id = avatar.id

            session_ready: list[float] = []
            for _ in range(args.runs):
                start = time.perf_counter()
                session = client.realtime_sessions.create(
                    model="gwm1_avatars", avatar={"type": "custom", "avatar_id": avatar_id}
                )
                while client.realtime_sessions.retrieve(session.id).status != "READY":
                    time.sleep(0.005)
                session_ready.append(time.perf_counter() - start)
                client.realtime_sessions.delete(session.id)

            gets: list[float] = []
            began = time.perf_counter()
            for _ in range(args.runs * 10):
                start = time.perf_counter()
                client.avatars.retrieve(avatar_id)
                gets.append(time.perf_counter() - start)
            rps = len(gets) / (time.perf_counter() - began)
        finally:
            server.stop()

    results = {
        "database": "postgresql" if args.database_url else "sqlite",
        "avatar_create_to_ready": summarize(avatar_ready),
        "session_create_to_ready": summarize(session_ready),
        "avatar_retrieve": summarize(gets),
        "avatar_retrieve_rps_one_client": round(rps, 1),
    }
    print(f"{'measure':32} {'p50 ms':>8} {'p95 ms':>8} {'n':>5}")
    for name in ("avatar_create_to_ready", "session_create_to_ready", "avatar_retrieve"):
        row = results[name]
        assert isinstance(row, dict)
        print(f"{name:32} {row['p50_ms']:>8} {row['p95_ms']:>8} {row['n']:>5}")
    print(
        f"avatar_retrieve requests/s (one client, SDK): {results['avatar_retrieve_rps_one_client']}"
    )
    out = ROOT / "bench" / "results" / f"api-{results['database']}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
