"""Run every benchmark script (benchmarks/*/run.py), core first; each writes its own results file.

    .venv/bin/python benchmarks/run_all.py [area ...]
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    wanted = sys.argv[1:]
    areas = sorted(p.parent.name for p in HERE.glob("*/run.py"))
    areas.sort(key=lambda a: (a != "core", a))
    failed = []
    for area in areas:
        if wanted and area not in wanted:
            continue
        print(f"== benchmarks/{area}/run.py", flush=True)
        if subprocess.run([sys.executable, str(HERE / area / "run.py")], check=False).returncode != 0:
            failed.append(area)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
