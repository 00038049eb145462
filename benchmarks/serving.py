"""Benchmark `bricksml serve` against `mlflow models serve` of the same registered version, side by side.

One run, one machine, one model (the sentiment pipeline train_models registers), both servers on
127.0.0.1 with one process each:

1. one-row requests from ``--clients`` concurrent clients: throughput and p50/p99 latency of each;
2. 1,000-row requests from ``--thousand-clients`` clients (2: the next request is already waiting
   when one is answered) against the model's own ``predict_proba`` in a loop on the same rows
   (rows per second);
3. a soak of ``--soak`` seconds at the load of 1 against `bricksml serve`: errors, RSS at its start
   and end, and the request log (one row per request sent, read back after SIGTERM);
4. the alias moved under that load (to new versions and back): failed requests, and how long after
   the move the first answer came from the new version.

The load generator speaks HTTP/1.1 keep-alive over asyncio streams with pre-encoded requests, so its
own cost per request (~50 us) is small next to either server's; it runs in this process, the servers
in their own. Every loop is bounded by time. Usage:

    python benchmarks/serving.py --seconds 10 --soak 60
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@dataclass
class Load:
    """What one load run measured."""

    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list, repr=False)
    versions: list[tuple[float, str]] = field(default_factory=list)  # (when, served version) if asked

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")

    def summary(self) -> dict:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "seconds": round(self.seconds, 2),
            "throughput_rps": round(self.throughput, 1),
            "p50_ms": round(self.percentile(0.50), 2),
            "p99_ms": round(self.percentile(0.99), 2),
        }


async def _client(
    port: int, path: str, body: bytes, until: float, load: Load, track_versions: bool, warm_until: float
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    request = head + body
    try:
        while (now := time.perf_counter()) < until:
            writer.write(request)
            await writer.drain()
            status_line = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            answer = await reader.readexactly(length)
            done = time.perf_counter()
            if now < warm_until:
                continue
            load.requests += 1
            load.latencies.append(done - now)
            if status_line.split()[1] != b"200":
                load.errors += 1
            elif track_versions:
                load.versions.append((done, json.loads(answer)["served_model_version"]))
    except (ConnectionError, asyncio.IncompleteReadError):
        load.errors += 1
    finally:
        writer.close()


def run_load(
    port: int,
    path: str,
    body: bytes,
    clients: int,
    seconds: float,
    warmup: float = 1.0,
    versions: bool = False,
) -> Load:
    """``clients`` keep-alive connections sending ``body`` back to back for ``warmup + seconds``."""
    load = Load()

    async def main() -> None:
        start = time.perf_counter()
        warm_until, until = start + warmup, start + warmup + seconds
        await asyncio.gather(
            *(_client(port, path, body, until, load, versions, warm_until) for _ in range(clients))
        )

    asyncio.run(main())
    load.seconds = seconds
    return load


def _batches(port: int) -> dict:
    import httpx

    return httpx.get(f"http://127.0.0.1:{port}/ready").json()["batches"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(port: int, path: str, timeout: float = 120.0) -> None:
    import httpx

    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"no server on port {port} after {timeout} s")


def start_bricksml(model: str, env: dict[str, str]) -> tuple[subprocess.Popen, int]:
    port = free_port()
    process = subprocess.Popen(
        [str(BIN / "bricksml"), "serve", "--model-name", model, "--port", str(port), "--poll-seconds", "0.5"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_http(port, "/ready")
    return process, port


def start_mlflow(model_uri: str, env: dict[str, str]) -> tuple[subprocess.Popen, int]:
    port = free_port()
    command = [str(BIN / "mlflow"), "models", "serve", "-m", model_uri, "--env-manager", "local"]
    with open(os.environ["BRICKSML_LOCAL_ROOT"] + "/mlflow-serve.log", "w") as log:
        process = subprocess.Popen(
            [*command, "-h", "127.0.0.1", "-p", str(port)],
            env={**env, "MLFLOW_MODELS_WORKERS": "1"},
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    wait_http(port, "/ping")
    return process, port


def rss_mb(pid: int) -> float:
    import psutil

    return psutil.Process(pid).memory_info().rss / 1e6


def machine() -> str:
    cpu = platform.processor() or ""
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout.splitlines():
            if line.startswith("Model name:"):
                cpu = line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, {platform.system()}"


def prepare(root: Path, rows: int) -> tuple[str, object, list[str]]:
    """A data version and a trained, promoted sentiment model in a fresh local workspace."""
    os.environ["BRICKSML_LOCAL_ROOT"] = str(root)
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "DATABRICKS_RUNTIME_VERSION"):
        os.environ.pop(name, None)
    sys.path.insert(0, str(ROOT))
    from bricksml.data import sample
    from bricksml.jobs.train_models import train_models
    from bricksml.jobs.validate_model import validate_model
    from bricksml.params import TrainParams
    from bricksml.tracking import setup
    from tests.helpers import SENTIMENT, make_version

    setup.configure()
    make_version(root, "sentiment", sample.sentiment(rows, 0), SENTIMENT)
    params = TrainParams.parse(
        {"data_name": "sentiment", "data_version": "v1", "model_type": "logistic_regression"}
    )
    result = train_models(params)
    validate_model(params, result.model_version)
    import pandas as pd

    holdout = pd.read_parquet(root / "Volumes/main/bricksml/data/sentiment/v1/holdout.parquet")
    return params.registered_model_name, result, holdout["Sentence"].astype(str).tolist()


def new_versions(model: str, count: int) -> list[str]:
    """``count`` more versions of ``model``, trained with other regularisation (other predictions)."""
    from bricksml.jobs.train_models import train_models
    from bricksml.params import TrainParams

    numbers = []
    for c in (1.0, 0.5, 8.0)[:count]:
        params = TrainParams.parse(
            {
                "data_name": "sentiment",
                "data_version": "v1",
                "model_type": "logistic_regression",
                "model_params": {"C": c},
                "gate_mode": "disabled",
            }
        )
        numbers.append(train_models(params).model_version)
    return numbers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000, help="rows of the generated sentiment data set")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each load run")
    parser.add_argument("--soak", type=float, default=60.0, help="length of the soak")
    parser.add_argument(
        "--thousand-clients",
        type=int,
        default=2,
        help="clients of the 1,000-row runs (2: the next request waits)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of the side-by-side runs")
    parser.add_argument("--out", default=None, help="write the results as JSON here too")
    args = parser.parse_args()

    results: dict = {"machine": machine(), "command": " ".join(["python", *sys.argv])}
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp:
        model, trained, texts = prepare(Path(tmp), args.rows)
        from bricksml import runtime
        from bricksml.serving.request_log import read_requests
        from bricksml.tracking import modelstore, registry

        one = json.dumps({"dataframe_split": {"columns": ["Sentence"], "data": [[texts[0]]]}}).encode()
        batch_rows = (texts * (1000 // len(texts) + 1))[:1000]
        thousand = json.dumps(
            {"dataframe_split": {"columns": ["Sentence"], "data": [[t] for t in batch_rows]}}
        )
        thousand = thousand.encode()
        # MLflow's own server finds the registered version through the same store.
        # MLflow starts `uvicorn` by name: the venv's bin comes first on PATH.
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "MLFLOW_TRACKING_URI": runtime.tracking_uri(),
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        path = f"/serving-endpoints/bricksml-{model.rsplit('.', 1)[-1]}/invocations"

        mlflow_server, mlflow_port = start_mlflow(f"models:/{model}/{trained.model_version}", env)
        bricks, port = start_bricksml(model, env)
        sent = 0
        try:
            pipeline = modelstore.load(f"models:/{model}/{trained.model_version}", permission=None)
            import pandas as pd

            frame = pd.DataFrame({"Sentence": pd.array(batch_rows, dtype="str")})
            pipeline.predict_proba(frame)

            def own() -> float:
                calls, start = 0, time.perf_counter()
                while time.perf_counter() - start < args.seconds:
                    pipeline.predict_proba(frame)
                    calls += 1
                return calls * 1000 / (time.perf_counter() - start)

            # Alternating rounds, both servers up (an idle one costs nothing): the other load on the
            # machine falls on both alike.
            rounds: dict[str, list] = {k: [] for k in ("ml_one", "br_one", "ml_k", "br_k", "own")}
            batch_sizes: list[float] = []
            for _ in range(args.rounds):
                rounds["ml_one"].append(
                    run_load(mlflow_port, "/invocations", one, args.clients, args.seconds)
                )
                before = _batches(port)
                rounds["br_one"].append(run_load(port, path, one, args.clients, args.seconds))
                after = _batches(port)
                batch_sizes.append(
                    (after["requests"] - before["requests"]) / max(after["count"] - before["count"], 1)
                )
                rounds["ml_k"].append(
                    run_load(mlflow_port, "/invocations", thousand, args.thousand_clients, args.seconds)
                )
                rounds["br_k"].append(run_load(port, path, thousand, args.thousand_clients, args.seconds))
                rounds["own"].append(own())
            mlflow_server.terminate()
            mlflow_server.wait(30)

            rss_start = rss_mb(bricks.pid)
            soak = run_load(port, path, one, args.clients, args.soak, warmup=0.0)
            rss_end = rss_mb(bricks.pid)

            numbers = new_versions(model, 2)
            moves: list[tuple[float, str]] = []

            def mover() -> None:
                for number in [*numbers, trained.model_version]:
                    time.sleep(args.seconds / 4)
                    registry.set_alias(model, registry.CHAMPION, number)
                    moves.append((time.perf_counter(), number))

            thread = threading.Thread(target=mover)
            thread.start()
            swap = run_load(port, path, one, args.clients, args.seconds * 1.2, warmup=0.0, versions=True)
            thread.join()
            import httpx

            sent = httpx.get(f"http://127.0.0.1:{port}/ready").json()["requests"]["requests"]
        finally:
            bricks.send_signal(signal.SIGTERM)
            out, err = bricks.communicate(timeout=60)
        logged = len(read_requests(f"main.bricksml.bricksml_{model.rsplit('.', 1)[-1]}_payload"))

    delays = []
    for moved_at, number in moves:
        seen = next((when for when, version in swap.versions if when >= moved_at and version == number), None)
        delays.append(None if seen is None else round(seen - moved_at, 3))

    def median_rps(loads: list[Load]) -> float:
        return statistics.median(load.throughput for load in loads)

    def median_p99(loads: list[Load]) -> float:
        return statistics.median(load.percentile(0.99) for load in loads)

    own_rows = statistics.median(rounds["own"])
    ml_rps, br_rps = median_rps(rounds["ml_one"]), median_rps(rounds["br_one"])
    ml_p99, br_p99 = median_p99(rounds["ml_one"]), median_p99(rounds["br_one"])
    ml_k, br_k = median_rps(rounds["ml_k"]) * 1000, median_rps(rounds["br_k"]) * 1000
    results.update(
        {
            "load_average": {"start": load_start, "end": os.getloadavg()},
            "one_row": {
                "mlflow_rps": round(ml_rps, 1),
                "bricksml_rps": round(br_rps, 1),
                "throughput_ratio": round(br_rps / ml_rps, 2),
                "mlflow_p99_ms": round(ml_p99, 2),
                "bricksml_p99_ms": round(br_p99, 2),
                "p99_ratio": round(br_p99 / ml_p99, 3),
                "bricksml_requests_per_batch": [round(b, 2) for b in batch_sizes],
                "rounds": {k: [x.summary() for x in rounds[k]] for k in ("ml_one", "br_one")},
            },
            "thousand_rows": {
                "mlflow_rows_per_s": round(ml_k),
                "bricksml_rows_per_s": round(br_k),
                "predict_proba_rows_per_s": round(own_rows),
                "bricksml_vs_predict_proba": round(br_k / own_rows, 3),
                "mlflow_vs_predict_proba": round(ml_k / own_rows, 3),
                "rounds": {
                    **{k: [x.summary() for x in rounds[k]] for k in ("ml_k", "br_k")},
                    "predict_proba_rows_per_s": [round(x) for x in rounds["own"]],
                },
            },
            "soak": {
                **soak.summary(),
                "rss_start_mb": round(rss_start, 1),
                "rss_end_mb": round(rss_end, 1),
                "rss_growth": round(rss_end / rss_start - 1, 4),
                "requests_sent_to_server": sent,
                "request_log_rows": logged,
                "request_log_complete": logged == sent,
            },
            "alias_swap": {
                **swap.summary(),
                "moves": [number for _, number in moves],
                "first_answer_from_new_version_s": delays,
                "server_exit": bricks.returncode,
                "server_summary": err.strip().splitlines()[-3:] + out.strip().splitlines()[-3:],
            },
        }
    )
    text = json.dumps(results, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
