"""Cold start of `yatri serve` to /readyz 200, warm restart, graceful stop, and the memory of the
running process tree. Peer, in the same run: the embedded servers started bare (valkey-server
and the Temporal dev server alone), which is the floor Yatri's own start-up adds to.

    python bench/startup.py [--runs 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from _serve import YatriProcess

from core.embedded import EmbeddedTemporal, EmbeddedValkey


def bare(kind: type[EmbeddedValkey] | type[EmbeddedTemporal]) -> float:
    folder = Path(tempfile.mkdtemp(prefix="bench-bare-"))
    server = kind(folder)
    started = time.perf_counter()
    server.start()
    elapsed = time.perf_counter() - started
    server.stop()
    shutil.rmtree(folder, ignore_errors=True)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    cold, warm, stop, rss = [], [], [], []
    parts: dict[str, float] = {}
    for _ in range(args.runs):
        data_dir = Path(tempfile.mkdtemp(prefix="yatri-bench-"))
        first = YatriProcess(data_dir=data_dir)
        cold.append(first.start())
        time.sleep(1.0)  # let start-up allocations settle before reading memory
        total, parts = first.tree_rss_mb()
        rss.append(total)
        stop.append(first.stop())
        second = YatriProcess(data_dir=data_dir)
        warm.append(second.start())
        second.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    valkey = [bare(EmbeddedValkey) for _ in range(args.runs)]
    temporal = [bare(EmbeddedTemporal) for _ in range(args.runs)]

    med = statistics.median
    print(f"runs: {args.runs} (medians)")
    print(f"yatri serve cold start -> /readyz 200   {med(cold):6.2f} s")
    print(f"yatri serve warm restart -> /readyz 200 {med(warm):6.2f} s")
    print(f"yatri serve graceful stop (SIGTERM)     {med(stop):6.2f} s")
    print(f"peer: valkey-server alone, ready        {med(valkey):6.2f} s")
    print(f"peer: temporal dev server alone, ready  {med(temporal):6.2f} s")
    print(f"process tree RSS after start            {med(rss):6.0f} MiB")
    for name, mb in sorted(parts.items()):
        print(f"  {name:<20} {mb:6.0f} MiB")


if __name__ == "__main__":
    main()
