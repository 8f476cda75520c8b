"""Scale test: several API nodes on one PostgreSQL and one S3 bucket, N media workers.

Measures, through the public API (Runway's wire format) spread round-robin over the API nodes:
- sessions created per second (a burst of --burst creates, --concurrency at a time), with the
  create latency p50/p99;
- one session at a time on the idle deployment: create → READY (a worker woken and claiming);
- how the burst's sessions are placed across the workers (per worker, from the database) and
  how long from the burst's start until every free slot is taken (READY);
- API p50/p99 under a bounded, open-loop load (GETs of an avatar and a session at each rate of
  --rps for --duration s; requests start on schedule whether or not earlier ones answered);
- locally, what one more worker adds: the same burst and the highest load again after starting
  worker N+1 (slots, placement, latency).

Local (default): starts its own PostgreSQL database (on the server OPENCHARACTERS_TEST_POSTGRES_URL
names, or --postgres-url), versitygw (S3, .tools/bin), --api-nodes `opencharacters serve
--media-workers 0` and --workers `opencharacters worker --slots --slots`, all on this machine:

    .venv/bin/python bench/scale_bench.py --workers 2 --slots 2

Real hosts (nothing is started; the deployment's own processes are measured):

    .venv/bin/python bench/scale_bench.py --api-url https://api-1.example --api-url \
        https://api-2.example --api-key oc_... [--database-url postgresql://...]

With --database-url (read-only use) the placement per worker is read from the database; without
it only the totals from /metrics are reported. Against real hosts, run it before and after
adding a worker to see what one more adds. Mind the organization's limits: the burst holds
--burst sessions at once (maxConcurrentSessions) and the load makes --rps requests per second
(OPENCHARACTERS_RATE_LIMIT_PER_MINUTE); the local run raises both.

Prints the figures and writes bench/results/scale.json (--name to change)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import load_average, write_results  # noqa: E402

RUNWAY_VERSION = "2024-11-06"


# ----- the numbers ---------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def latency(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(values) * 1000, 1) if values else float("nan"),
        "p99_ms": round(percentile(values, 99) * 1000, 1),
        "n": len(values),
    }


# ----- talking to the API nodes ----------------------------------------------------------------


@dataclass
class Api:
    urls: list[str]
    key: str
    http: aiohttp.ClientSession = field(init=False)
    _next: int = 0

    async def __aenter__(self) -> Api:
        self.http = aiohttp.ClientSession(
            headers={"Authorization": f"Bearer {self.key}", "X-Runway-Version": RUNWAY_VERSION},
            connector=aiohttp.TCPConnector(limit=256),
            timeout=aiohttp.ClientTimeout(total=30),
        )
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.http.close()

    def url(self, path: str) -> str:
        """Round-robin over the nodes, as a load balancer would."""
        base = self.urls[self._next % len(self.urls)]
        self._next += 1
        return base.rstrip("/") + path

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        async with self.http.request(method, self.url(path), **kwargs) as response:
            body = await response.read()
            if response.content_type == "application/json" and body:
                import json

                return response.status, json.loads(body)
            return response.status, body.decode(errors="replace")

    async def metrics(self) -> dict[str, float]:
        status, text = await self.call("GET", "/metrics")
        if status != 200:
            return {}
        wanted = (
            "opencharacters_media_workers",
            "opencharacters_worker_slots_total",
            "opencharacters_worker_slots_free",
            "opencharacters_session_queue_length",
        )
        found: dict[str, float] = {}
        for name in wanted:
            match = re.search(rf"^{name} ([0-9.e+-]+)$", str(text), re.M)
            if match:
                found[name.removeprefix("opencharacters_")] = float(match.group(1))
        return found


async def ready_avatar(api: Api) -> str:
    from tests.support.media import face_data_uri

    status, avatar = await api.call(
        "POST",
        "/v1/avatars",
        json={
            "name": "Scale",
            "referenceImage": face_data_uri(),
            "voice": {"type": "runway-live-preset", "presetId": "clara"},
            "personality": "You answer briefly.",
        },
    )
    assert status == 200, avatar
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status, current = await api.call("GET", f"/v1/avatars/{avatar['id']}")
        if current.get("status") == "READY":
            return str(avatar["id"])
        assert current.get("status") == "PROCESSING", current
        await asyncio.sleep(0.2)
    raise RuntimeError("the avatar did not become READY in 120 s")


# ----- the phases --------------------------------------------------------------------------------


async def burst(
    api: Api, avatar_id: str, count: int, concurrency: int, slots: int, database_url: str | None
) -> dict[str, Any]:
    """Creates `count` sessions, measures the create rate, waits for the free slots to fill,
    reads where they went, and cancels them all."""
    body = {"model": "gwm1_avatars", "avatar": {"type": "custom", "avatarId": avatar_id}}
    created: list[str] = []
    latencies: list[float] = []
    refused: Counter[int] = Counter()
    gate = asyncio.Semaphore(concurrency)

    async def create() -> None:
        async with gate:
            started = time.perf_counter()
            status, answer = await api.call("POST", "/v1/realtime_sessions", json=body)
            if status == 200:
                latencies.append(time.perf_counter() - started)
                created.append(str(answer["id"]))
            else:
                refused[status] += 1

    # Placement while the burst goes on: the workers claim up to their slots (least loaded
    # first) as the sessions arrive; the rest queue.
    to_place = min(count, slots)

    async def all_slots_taken() -> float | None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            free = (await api.metrics()).get("worker_slots_free", slots)
            if slots - free >= to_place:
                return time.perf_counter() - started
            await asyncio.sleep(0.05)
        return None

    started = time.perf_counter()
    watcher = asyncio.create_task(all_slots_taken())
    await asyncio.gather(*(create() for _ in range(count)))
    elapsed = time.perf_counter() - started
    placed_in = await watcher
    per_worker = placement(database_url, created) if database_url else None

    async def cancel(session_id: str) -> None:
        async with gate:
            await api.call("DELETE", f"/v1/realtime_sessions/{session_id}")

    await asyncio.gather(*(cancel(session_id) for session_id in created))
    return {
        "created": len(created),
        "refused": dict(refused),
        "sessions_per_s": round(len(created) / elapsed, 1),
        "create_latency": latency(latencies),
        "slots": slots,
        "all_slots_ready_s": None if placed_in is None else round(placed_in, 2),
        "placed_per_worker": per_worker,
        "_last_session": created[-1] if created else None,
    }


def placement(database_url: str, session_ids: list[str]) -> dict[str, int]:
    """Sessions per worker (workers named by their address), from the database."""
    from sqlalchemy import bindparam, create_engine, text

    from opencharacters.store.db import normalize_url

    engine = create_engine(normalize_url(database_url))
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT w.address, count(s.id) FROM media_workers w LEFT JOIN "
                    "realtime_sessions s ON s.worker_id = w.id AND s.id IN :ids "
                    "WHERE w.stopped_at IS NULL GROUP BY w.address ORDER BY w.address"
                ).bindparams(bindparam("ids", expanding=True)),
                {"ids": session_ids},
            ).all()
            return {str(address): int(count) for address, count in rows}
    finally:
        engine.dispose()


async def ready_latency(api: Api, avatar_id: str, runs: int) -> dict[str, float]:
    """One session at a time on an idle deployment: create → READY (a worker woken, claiming)."""
    body = {"model": "gwm1_avatars", "avatar": {"type": "custom", "avatarId": avatar_id}}
    took: list[float] = []
    for _ in range(runs):
        started = time.perf_counter()
        status, session = await api.call("POST", "/v1/realtime_sessions", json=body)
        assert status == 200, session
        while True:
            _, current = await api.call("GET", f"/v1/realtime_sessions/{session['id']}")
            if current.get("status") != "NOT_READY":
                break
            await asyncio.sleep(0.005)
        took.append(time.perf_counter() - started)
        await api.call("DELETE", f"/v1/realtime_sessions/{session['id']}")
    return latency(took)


async def load(
    api: Api, avatar_id: str, session_id: str, rps: int, duration_s: float
) -> dict[str, Any]:
    """Open loop: request i starts at i/rps whatever happened to the earlier ones."""
    paths = [f"/v1/avatars/{avatar_id}", f"/v1/realtime_sessions/{session_id}"]
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    late: list[float] = []
    total = int(rps * duration_s)
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05

    async def one(index: int) -> None:
        due = start + index / rps
        await asyncio.sleep(max(0.0, due - loop.time()))
        late.append(loop.time() - due)
        began = time.perf_counter()
        try:
            status, _ = await api.call("GET", paths[index % len(paths)])
        except (aiohttp.ClientError, TimeoutError) as error:
            errors[type(error).__name__] += 1
            return
        if status == 200:
            latencies.append(time.perf_counter() - began)
        else:
            errors[str(status)] += 1

    began = loop.time()
    await asyncio.gather(*(one(index) for index in range(total)))
    took = loop.time() - began
    return {
        "target_rps": rps,
        "achieved_rps": round(len(latencies) / took, 1),
        "latency": latency(latencies),
        "errors": dict(errors),
        "start_lag_p99_ms": round(percentile(late, 99) * 1000, 1),
        "load_average": round(load_average(), 2),
    }


async def measure(
    urls: list[str],
    key: str,
    *,
    database_url: str | None,
    avatar_id: str | None,
    burst_size: int,
    concurrency: int,
    rates: list[int],
    duration_s: float,
) -> dict[str, Any]:
    async with Api(urls, key) as api:
        avatar = avatar_id or await ready_avatar(api)
        before = await api.metrics()
        slots = int(before.get("worker_slots_free", 0))
        ready = await ready_latency(api, avatar, 20)
        placed = await burst(api, avatar, burst_size, concurrency, slots, database_url)
        session_id = placed.pop("_last_session")
        loads = [await load(api, avatar, session_id, rps, duration_s) for rps in rates]
        return {
            "workers": before,
            "create_to_ready_idle": ready,
            "burst": placed,
            "load": loads,
            "avatar_id": avatar,
        }


def report(title: str, figures: dict[str, Any]) -> None:
    workers, placed = figures["workers"], figures["burst"]
    print(f"\n== {title}")
    live, slots = workers.get("media_workers"), workers.get("worker_slots_total")
    print(f"workers {live} slots {slots}" if workers else "workers ? (no /metrics)")
    ready = figures["create_to_ready_idle"]
    print(
        f"one session at a time, create -> READY: p50 {ready['p50_ms']} ms, "
        f"p99 {ready['p99_ms']} ms"
    )
    create = placed["create_latency"]
    print(
        f"sessions created: {placed['created']} at {placed['sessions_per_s']}/s "
        f"(create p50 {create['p50_ms']} ms, p99 {create['p99_ms']} ms; "
        f"refused {placed['refused']})"
    )
    print(f"all {placed['slots']} free slots READY after {placed['all_slots_ready_s']} s")
    if placed["placed_per_worker"] is not None:
        print(f"placed per worker: {placed['placed_per_worker']}")
    for row in figures["load"]:
        lat = row["latency"]
        print(
            f"load {row['target_rps']:>4} rps: achieved {row['achieved_rps']:>6}/s "
            f"p50 {lat['p50_ms']:>6} ms p99 {lat['p99_ms']:>7} ms errors {row['errors']} "
            f"(start lag p99 {row['start_lag_p99_ms']} ms, load avg {row['load_average']})"
        )


# ----- the local deployment -------------------------------------------------------------------


@contextlib.contextmanager
def local_deployment(
    api_nodes: int, workers: int, slots: int, postgres_url: str | None, workdir: Path
) -> Iterator[tuple[list[str], str, Any, Any]]:
    """(API URLs, database URL, add_worker(), memory()) of a deployment on this machine."""
    from tests.support.s3 import running_s3
    from tests.support.server import POSTGRES_ENV, MediaWorker, Server, postgres_database

    if postgres_url:
        os.environ[POSTGRES_ENV] = postgres_url
    if not os.environ.get(POSTGRES_ENV):
        raise SystemExit(f"set {POSTGRES_ENV} or --postgres-url: the API nodes share PostgreSQL")
    with postgres_database() as database_url, running_s3(workdir / "s3") as s3:
        env = {
            **s3.env(s3.create_bucket()),
            "OPENCHARACTERS_SECRET_KEY": secrets.token_urlsafe(32),
            "OPENCHARACTERS_MAX_CONCURRENT_SESSIONS_PER_ORG": "100000",
            # Workers load their models before they register, as a deployment's would: the
            # measurements run on idle workers, not on ones busy loading.
            "OPENCHARACTERS_PRELOAD_ENGINES": "true",
        }
        nodes = [
            Server(workdir / f"api-{index}", database_url, media_workers=0, **env)
            for index in range(api_nodes)
        ]
        started: list[MediaWorker] = []
        try:
            for node in nodes:  # one after the other: the first one migrates the database
                node.start()

            def add(count: int = 1) -> None:
                new = [
                    MediaWorker(nodes[0], slots=slots, name=f"worker-{len(started) + i}")
                    for i in range(count)
                ]
                threads = [threading.Thread(target=worker.start) for worker in new]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                for worker in new:
                    if worker.worker_id is None:
                        raise RuntimeError(f"a worker did not start:\n{worker.log()[-3000:]}")
                started.extend(new)

            add(workers)

            def memory() -> dict[str, float]:
                """Resident memory (MiB) of each process: sizing a host."""
                processes = {f"api-{i}": node.process for i, node in enumerate(nodes)}
                processes |= {f"worker-{i}": worker.process for i, worker in enumerate(started)}
                return {
                    name: rss_mib(process.pid) for name, process in processes.items() if process
                }

            yield [node.base_url for node in nodes], database_url, add, memory
        finally:
            for worker in started:
                worker.stop()
            for node in nodes:
                node.stop()


def rss_mib(pid: int) -> float:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--api-url", action="append", help="an API node (repeat); none: local")
    parser.add_argument("--api-key", default=None, help="with --api-url")
    parser.add_argument("--database-url", default=None, help="read placement per worker")
    parser.add_argument("--avatar-id", default=None, help="a READY avatar (default: create one)")
    parser.add_argument("--api-nodes", type=int, default=2, help="local: API nodes to start")
    parser.add_argument("--workers", type=int, default=2, help="local: workers to start")
    parser.add_argument("--slots", type=int, default=2, help="local: slots per worker")
    parser.add_argument("--postgres-url", default=None, help="local: a PostgreSQL admin URL")
    parser.add_argument("--burst", type=int, default=200, help="sessions created at once")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rps", type=int, action="append", help="load rates (default 100 200 300)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per load rate")
    parser.add_argument("--name", default="scale", help="bench/results/NAME.json")
    args = parser.parse_args()
    rates = args.rps or [100, 200, 300]
    options = {
        "burst_size": args.burst,
        "concurrency": args.concurrency,
        "rates": rates,
        "duration_s": args.duration,
    }
    result: dict[str, Any] = {"command": " ".join(sys.argv), "options": options}
    if args.api_url:
        if not args.api_key:
            raise SystemExit("--api-key is needed with --api-url")
        figures = asyncio.run(
            measure(
                args.api_url,
                args.api_key,
                database_url=args.database_url,
                avatar_id=args.avatar_id,
                **options,
            )
        )
        report(f"{len(args.api_url)} API nodes (remote)", figures)
        result["remote"] = figures
    else:
        from tests.support.server import API_KEY

        with (
            tempfile.TemporaryDirectory(prefix="scale-bench-") as tmp,
            local_deployment(
                args.api_nodes, args.workers, args.slots, args.postgres_url, Path(tmp)
            ) as (urls, database_url, add_worker, memory),
        ):
            base = asyncio.run(
                measure(urls, API_KEY, database_url=database_url, avatar_id=None, **options)
            )
            report(f"{args.api_nodes} API nodes, {args.workers} workers x {args.slots}", base)
            add_worker()
            more = asyncio.run(
                measure(
                    urls,
                    API_KEY,
                    database_url=database_url,
                    avatar_id=base["avatar_id"],
                    **{**options, "rates": [max(rates)]},
                )
            )
            report(f"one more worker ({args.workers + 1})", more)
            rss = memory()
            print(f"resident memory (MiB): {rss}")
            result["local"] = {
                "rss_mib": rss,
                "api_nodes": args.api_nodes,
                "slots_per_worker": args.slots,
                f"workers_{args.workers}": base,
                f"workers_{args.workers + 1}": more,
            }
    write_results(args.name, result)


if __name__ == "__main__":
    main()
