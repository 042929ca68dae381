"""Instructions per round trip: ``bench/inprocess.py``'s round trips counted by valgrind's callgrind.

This VM's speed drifts by a quarter within minutes, so CPU times of two commits taken one after the other
compare the VM as much as the code. Callgrind counts the instructions the process executes (user space,
every thread), which stay the same for the same code and inputs whatever else the machine does. Two runs,
of ``--small`` and ``--large`` round trips, and the difference per round trip: start-up, migrations and
enrolment cancel out. The clients' share (signing, the device's ECDSA) is included, as in
``bench/inprocess.py``; PostgreSQL and Redis are other processes and are not. About a minute per run.

    python bench/instructions.py [--repo /tmp/other-checkout] [--small 50] [--large 250]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent


def instructions(repo: Path, round_trips: int, users: int, out_dir: Path) -> int:
    """The instructions callgrind counted for one run of ``bench/inprocess.py`` in ``repo``."""
    out_file = out_dir / f"callgrind.{round_trips}"
    command = [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={out_file}",
        str(repo / ".venv" / "bin" / "python"),
        "bench/inprocess.py",
        "--round-trips",
        str(round_trips),
        "--users",
        str(users),
    ]
    run = subprocess.run(command, cwd=repo, capture_output=True, text=True, check=False)
    if run.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}")
    summary = re.search(r"^summary: (\d+)$", out_file.read_text(), re.MULTILINE)
    if summary is None:
        raise RuntimeError(f"no summary line in {out_file}")
    return int(summary.group(1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repo", type=Path, default=HERE, help="checkout to measure (with its .venv)")
    parser.add_argument("--small", type=int, default=50)
    parser.add_argument("--large", type=int, default=250)
    parser.add_argument("--users", type=int, default=10)
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        parser.error("valgrind is not installed (Debian package valgrind)")
    if args.large <= args.small:
        parser.error("--large must be more than --small")
    with tempfile.TemporaryDirectory(prefix="mfa-instructions-") as out_dir:
        small = instructions(args.repo, args.small, args.users, Path(out_dir))
        large = instructions(args.repo, args.large, args.users, Path(out_dir))
    per_round_trip = (large - small) / (args.large - args.small)
    print(f"{args.repo}: {per_round_trip / 1e6:.2f} M instructions per round trip ({args.small} and {args.large} runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
