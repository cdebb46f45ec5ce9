"""The test command: the whole suite, in batches of test files, each batch its own pytest
process, so no process lives long enough to hold the native memory every app start leaves
behind (about 100 MB each in one process; the whole suite in one process reached 24 GB and was
killed). Arguments go to every batch (`python3 tests/run.py -x -k booking`); with file
arguments, only those files run, batched the same way.

    python3 tests/run.py [pytest args] [test files]
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

BATCH = 8  # test files per process
HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    files = [a for a in argv if a.endswith(".py") or "::" in a]
    options = [a for a in argv if a not in files]
    if not files:
        files = sorted(str(p.relative_to(HERE.parent)) for p in HERE.glob("test_*.py"))
    batches = [files[i : i + BATCH] for i in range(0, len(files), BATCH)]
    failed: list[int] = []
    started = time.perf_counter()
    for n, batch in enumerate(batches, start=1):
        print(f"\n=== batch {n}/{len(batches)}: {' '.join(batch)}", flush=True)
        code = subprocess.call([sys.executable, "-m", "pytest", *options, *batch], cwd=HERE.parent)
        if code not in (0, 5):  # 5: nothing collected (all deselected)
            failed.append(n)
            if "-x" in options or "--exitfirst" in options:
                break
    took = time.perf_counter() - started
    if failed:
        print(f"\n=== FAILED batches: {failed} ({took:.0f} s)", flush=True)
        return 1
    print(f"\n=== all {len(batches)} batches passed ({took:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
