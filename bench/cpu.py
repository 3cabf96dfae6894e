"""Where the machine's CPU goes during a benchmark: PostgreSQL's processes, the server
under test (`corridor serve` and its workers) and the load generator (`bench.load`),
sampled from /proc (Linux) once a second, printed as one line per sample:

    <unix time> postgres=<cores> server=<cores> load=<cores> other=<cores>

(cores: CPU seconds used in the interval over its length, so 2.0 is both cores busy).
Run beside `python -m bench` (docs/scaling.md shows how its figures were taken):

    python -m bench.cpu > cpu.log &
    python -m bench ... | while read -r l; do echo "$(date +%s) $l"; done > bench.log
    python -m bench.cpu --summarise cpu.log bench.log

The summary gives, for each measured path of the bench's log (from the line that starts
it to the line with its result), the mean cores of each group over those seconds.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
MAX_SAMPLES = 100_000  # a bound on the loop: about a day at one sample a second


def _processes() -> dict[int, tuple[int, str, float]]:
    """pid -> (parent pid, command line, CPU seconds so far), for every readable process."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        name_end = stat.rindex(")")
        fields = stat[name_end + 2 :].split()
        comm = stat[stat.index("(") + 1 : name_end]
        found[int(entry.name)] = (int(fields[1]), command or comm, (int(fields[11]) + int(fields[12])) / TICKS)
    return found


def _group(pid: int, table: dict[int, tuple[int, str, float]]) -> str:
    """postgres, server (a `corridor serve` or a process below one), load or other."""
    command = table[pid][1]
    if command.startswith("postgres"):
        return "postgres"
    if "bench.load" in command:
        return "load"
    seen = 0
    while pid in table and seen < 64:
        parent, line, _ = table[pid]
        if "corridor" in line and " serve" in line:
            return "server"
        pid, seen = parent, seen + 1
    return "other"


def sample(interval: float, out) -> None:
    before = _processes()
    for _ in range(MAX_SAMPLES):
        time.sleep(interval)
        now = _processes()
        used = {"postgres": 0.0, "server": 0.0, "load": 0.0, "other": 0.0}
        for pid, (_, _, seconds) in now.items():
            previous = before.get(pid)
            used[_group(pid, now)] += seconds - (previous[2] if previous else 0.0)
        cores = " ".join(f"{name}={value / interval:.2f}" for name, value in used.items())
        print(f"{time.time():.0f} {cores}", file=out, flush=True)
        before = now


STARTS = re.compile(r"^(\d+) \[(\w+)\] (\d+) worker\(s\), (\w+):")
ENDS = re.compile(r"^(\d+) \[(\w+)\]   ")


def _windows(bench_lines: list[str]) -> list[tuple[str, int, int]]:
    """(label, first second, last second) of each measured path in a timestamped bench log."""
    windows, open_ = [], None
    for line in bench_lines:
        start = STARTS.match(line)
        if start:
            open_ = (f"{start[2]} {start[3]}w {start[4]}", int(start[1]))
        elif open_ and ENDS.match(line):
            windows.append((open_[0], open_[1], int(ENDS.match(line)[1])))
            open_ = None
    return windows


def summarise(cpu_lines: list[str], bench_lines: list[str], out) -> None:
    samples = []
    for line in cpu_lines:
        stamp, *pairs = line.split()
        samples.append((int(stamp), {k: float(v) for k, v in (pair.split("=") for pair in pairs)}))
    print("path | postgres | server | load | other (mean cores)", file=out)
    for label, first, last in _windows(bench_lines):
        inside = [cores for stamp, cores in samples if first < stamp <= last]
        if not inside:
            continue
        means = {name: sum(cores[name] for cores in inside) / len(inside) for name in inside[0]}
        print(f"{label} | " + " | ".join(f"{means[name]:.2f}" for name in means), file=out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between samples (default 1)")
    parser.add_argument("--summarise", nargs=2, metavar=("CPU_LOG", "BENCH_LOG"), help="summarise a run instead")
    args = parser.parse_args(argv)
    if args.summarise:
        cpu_log, bench_log = (Path(name).read_text().splitlines() for name in args.summarise)
        summarise(cpu_log, bench_log, sys.stdout)
        return 0
    sample(max(0.1, args.interval), sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
