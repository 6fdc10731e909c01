"""The end-to-end benchmark: the floor, the peer and watcher on the same feeds, in one run.

    python bench/run.py --feeds 500 --entries 50 --latency 0.1

Generates the feeds (bench/gen.py, deterministic from --seed), serves them from a loopback
server (bench/server.py) in its own process, measures that server alone, then runs each
contender as a child process and reads its wall time here, and its CPU time and peak memory
from the kernel (wait4). Prints a Markdown table and writes it with the raw numbers to
bench/out/. Run it from the environment `make bench` builds (watcher, reader and lxml in it).
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import gen  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Row:
    name: str
    wall: float
    cpu: float
    peak_mb: float
    entries: int | None
    server_cpu: float
    note: str = ""

    @property
    def rate(self) -> float | None:
        return self.entries / self.wall if self.entries else None


def cpu_of(pid: int) -> float:
    """User + system CPU seconds of a running process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def measure(name: str, argv: list[str], server_pid: int, note: str = "") -> tuple[Row, str]:
    """Run one child to its end: wall time here; its CPU time and peak memory from the kernel
    (wait4, in bench/spawn.py: see there why not from this process)."""
    server_before = cpu_of(server_pid)
    with tempfile.TemporaryDirectory() as scratch:
        usage_file = Path(scratch) / "usage.json"
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-I", "-S", str(HERE / "spawn.py"), str(usage_file), *argv],
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - start
        server_cpu = cpu_of(server_pid) - server_before
        if done.returncode != 0:
            raise SystemExit(f"{name} failed ({done.returncode}): {' '.join(argv)}\n{done.stderr[-3000:]}")
        usage = json.loads(usage_file.read_text())
    if usage["processes"] > 1:  # peak MB is then the largest sum over the processes (see spawn.py)
        note += (
            f"; {usage['processes']} processes, the main one {usage['main_maxrss_kb'] / 1024:.0f} MB,"
            f" {usage['pss_peak_kb'] / 1024:.0f} MB in all by PSS"
        )
    row = Row(name, wall, usage["cpu"], usage["maxrss_kb"] / 1024, None, server_cpu, note)
    return row, done.stdout


def write_inputs(folder: Path, feeds: int, entries: int, seed: int) -> tuple[int, int]:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    docs = gen.generate(feeds, entries, seed)
    for index, body in enumerate(docs):
        (folder / f"{index}.xml").write_bytes(body)
    return len(docs), sum(map(len, docs))


def watcher_config(out: Path, urls: list[str], concurrency: int) -> tuple[Path, Path]:
    feeds_yaml = out / "feeds.yaml"
    lines = ["settings:", f"  max_workers: {concurrency}", "  timeout: 60", "feeds:"]
    for index, url in enumerate(urls):
        lines += [f"  - name: feed{index}", "    kind: rss", f"    url: {url}"]
    feeds_yaml.write_text("\n".join(lines) + "\n")
    keywords = out / "keywords.txt"
    shutil.copy(ROOT / "keywords.txt", keywords)
    return feeds_yaml, keywords


def table(rows: list[Row]) -> str:
    out = [
        "| run | wall s | CPU s | peak MB | entries/s | server CPU s | note |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        rate = f"{r.rate:,.0f}" if r.rate else "—"
        out.append(
            f"| {r.name} | {r.wall:.2f} | {r.cpu:.2f} | {r.peak_mb:.0f} | {rate} | {r.server_cpu:.2f} | {r.note} |"
        )
    return "\n".join(out)


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for name in ("watcher", "reader", "feedparser", "fastfeedparser", "lxml", "httpx"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "absent"
    return found


def machine() -> str:
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{platform.system()} {platform.release()}, {os.cpu_count()} cores ({model}), {mem:.0f} GiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=500, help="number of feeds (N)")
    parser.add_argument("--entries", type=int, default=50, help="entries per feed (M)")
    parser.add_argument("--latency", type=float, default=0.1, help="seconds before each answer")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight: floor and watcher")
    parser.add_argument("--peer-workers", type=int, default=16, help="reader's update_feeds(workers=)")
    parser.add_argument("--skip-peer", action="store_true", help="leave the peer out (no reader installed)")
    parser.add_argument("--out", type=Path, default=HERE / "out")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also profile a cold watcher poll (py-spy: out/cold.stacks, else out/cold.prof)",
    )
    args = parser.parse_args()

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    # An installed watcher has its bytecode compiled; an editable one may not (PYTHONDONTWRITEBYTECODE),
    # and compiling every module again would be counted in each poll.
    compileall.compile_dir(ROOT / "watcher", quiet=1)
    count, size = write_inputs(out / "feeds", args.feeds, args.entries, args.seed)
    total_entries = args.feeds * args.entries
    print(f"{count} feeds, {total_entries} entries, {size / count / 1024:.0f} KB per feed", file=sys.stderr)

    ports_count = args.feeds  # one "host" per feed, as in real life
    server = subprocess.Popen(
        [sys.executable, str(HERE / "server.py"), str(out / "feeds"), "--latency", str(args.latency),
         "--ports", str(ports_count)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        ports = json.loads(server.stdout.readline())["ports"]
        urls = [f"http://127.0.0.1:{ports[i % len(ports)]}/feed/{i}.xml" for i in range(args.feeds)]
        urls_file = out / "urls.json"
        urls_file.write_text(json.dumps(urls))
        feeds_yaml, keywords = watcher_config(out, urls, args.concurrency)
        py = sys.executable
        bindir = Path(py).parent
        rows: list[Row] = []

        def run(name: str, argv: list[str], note: str = "", entries: int | None = None) -> str:
            row, text = measure(name, argv, server.pid, note)
            row.entries = entries
            rows.append(row)
            print(f"  {name}: {row.wall:.2f} s wall, {row.cpu:.2f} s CPU, {row.peak_mb:.0f} MB", file=sys.stderr)
            return text

        floor = [py, str(HERE / "floor.py"), str(urls_file)]
        run("server alone (all at once, no parse)", [*floor, "--no-parse", "--concurrency", str(args.feeds)],
            f"{args.feeds} requests in flight")  # fmt: skip
        text = run("floor", [*floor, "--concurrency", str(args.concurrency)],
                   f"{args.concurrency} in flight, lxml", total_entries)  # fmt: skip
        floor_entries = json.loads(text)["entries"]
        if floor_entries != total_entries:
            raise SystemExit(f"the floor read {floor_entries} entries, not {total_entries}")

        if not args.skip_peer:
            peer_db = out / "peer.sqlite"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{peer_db}{suffix}").unlink(missing_ok=True)
            peer = [py, str(HERE / "peer.py"), str(urls_file), str(peer_db), "--workers", str(args.peer_workers)]
            run("peer cold (reader)", peer, f"workers={args.peer_workers}", total_entries)
            run("peer warm (all 304)", peer, f"workers={args.peer_workers}")

        db = out / "watcher.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        cmd = [str(bindir / "watcher"), "--feeds", str(feeds_yaml), "--keywords", str(keywords), "--db", str(db),
               "poll", "--all", "--json"]  # fmt: skip
        text = run("watcher cold", cmd, f"max_workers={args.concurrency}", total_entries)
        polled = json.loads(text)
        failed = [r for r in polled if r["status"] == "error"]
        if failed:
            raise SystemExit(f"watcher failed on {len(failed)} feeds, e.g. {failed[0]}")
        hits = sum(r["new_hits"] for r in polled)
        if args.profile:  # a second cold poll under cProfile, kept out of the table
            profiled = out / "profiled.db"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{profiled}{suffix}").unlink(missing_ok=True)
            spy = bindir / "py-spy"
            if spy.exists():  # every thread, native frames left out; collapsed stacks
                argv = [
                    str(spy),
                    "record",
                    "-r",
                    "200",
                    "--gil",
                    "-f",
                    "raw",
                    "-o",
                    str(out / "cold.stacks"),
                    "--",
                    *cmd,
                ]
            else:
                argv = [py, "-m", "cProfile", "-o", str(out / "cold.prof"), "-m", "watcher.cli", *cmd[1:]]
            argv[argv.index(str(db))] = str(profiled)
            measure("profiled", argv, server.pid)
        text = run("watcher warm (all 304)", cmd, f"max_workers={args.concurrency}")
        warm = json.loads(text)
        if any(r["status"] != "not_modified" for r in warm):
            raise SystemExit("the warm poll was not all 304")
        if args.profile and (bindir / "py-spy").exists():  # a warm poll under py-spy, out of the table
            spy = [str(bindir / "py-spy"), "record", "-r", "200", "--gil", "-f", "raw"]
            measure("profiled", [*spy, "-o", str(out / "warm.stacks"), "--", *cmd], server.pid)
    finally:
        if server.stdin:
            server.stdin.close()
        server.wait(timeout=10)

    by = {r.name: r for r in rows}
    w_cold, w_warm, fl = by["watcher cold"], by["watcher warm (all 304)"], by["floor"]
    lines = [
        f"N={args.feeds} feeds x M={args.entries} entries, latency {args.latency * 1000:.0f} ms, seed {args.seed}; "
        f"{size / count / 1024:.0f} KB per feed; watcher stored {hits} hits of 13 queries.",
        "",
        table(rows),
        "",
        f"- watcher cold / floor (wall): **{w_cold.wall / fl.wall:.2f}x** (target ≤ 2x)",
        f"- watcher warm / watcher cold (wall): **{w_warm.wall / w_cold.wall:.0%}** (target ≤ 10%)",
        f"- watcher peak memory: **{max(w_cold.peak_mb, w_warm.peak_mb):.0f} MB** (target ≤ 200 MB)",
    ]
    if not args.skip_peer:
        p_cold = by["peer cold (reader)"]
        lines.append(f"- peer cold / watcher cold (wall): **{p_cold.wall / w_cold.wall:.1f}x** (target ≥ 10x)")
        lines.append(f"- peer cold / watcher cold (CPU): {p_cold.cpu / w_cold.cpu:.1f}x")
    lines += ["", f"Machine: {machine()}", "Versions: " + ", ".join(f"{k} {v}" for k, v in versions().items())]
    report = "\n".join(lines)
    print(report)
    (out / "e2e.md").write_text(report + "\n")
    (out / "e2e.json").write_text(json.dumps([asdict(r) for r in rows], indent=2))


if __name__ == "__main__":
    main()
