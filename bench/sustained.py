#!/usr/bin/python3
"""Sustained ingest, kpidb against VictoriaMetrics side by side (issue 13).

Each run loads the same KPI workload into a fresh kpidb-server at its defaults
(fsync on every acknowledgement, background flushes, the compactor on) through
kpidb-loadgen and flushes it, then into a fresh VictoriaMetrics (Debian's
package) through its JSON-lines import and /internal/force_flush. The rate is
points / (load + final flush), everything acknowledged and in files; runs
alternate between the two and the medians and their ratio are printed.

Usage: bench/sustained.py [--build build-release] [--data /tmp/kpi42] [--days 42] [--runs 3]
                          [--vm-streams 1,4]
--vm-streams lists the numbers of concurrent import streams VictoriaMetrics is
given (the file split by lines); its best median is the one compared.
The data dir comes from `DAYS=42 python3 ../shared/bench/gen_kpi.py /tmp/kpi42`
(kpi.bin for kpidb, kpi.vm.jsonl for VictoriaMetrics: 72,576,000 points).
Servers listen on 127.0.0.1 (ephemeral ports), data in temporary dirs.
"""
import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, what):
    for _ in range(300):
        if proc.poll() is not None:
            sys.exit(f"{what} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"{what} did not listen on 127.0.0.1:{port}")


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run_kpidb(args, tmp):
    data_dir = os.path.join(tmp, "kpidb")
    shutil.rmtree(data_dir, ignore_errors=True)
    port = free_port()
    server = subprocess.Popen(
        [os.path.join(args.build, "server/kpidb-server"), "--listen", f"127.0.0.1:{port}",
         "--data-dir", data_dir],
        stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "kpidb.log"), "w"))
    try:
        wait_port(port, server, "kpidb-server")
        out = subprocess.run(
            [os.path.join(args.build, "bench/kpidb-loadgen"), "--server", f"127.0.0.1:{port}",
             "--kpi-bin", os.path.join(args.data, "kpi.bin"), "--days", str(args.days),
             "--query-runs", "1", "--server-pid", str(server.pid)],
            check=True, capture_output=True, text=True).stdout
    finally:
        stop(server)
    m = re.search(r"sustained \(ingest \+ final flush\): (\d+) points in ([\d.]+) s", out)
    ingest = re.search(r"ingest: \d+ points in ([\d.]+) s", out)
    flush = re.search(r"flush: ([\d.]+) s", out)
    bpp = re.search(r"segments ([\d.]+) bytes/point", out)
    if not m:
        sys.exit("kpidb-loadgen printed no sustained figure:\n" + out)
    points, seconds = int(m.group(1)), float(m.group(2))
    return {"points": points, "seconds": seconds, "ingest_s": float(ingest.group(1)),
            "flush_s": float(flush.group(1)), "bytes_per_point": float(bpp.group(1))}


def split_lines(path, parts, tmp):
    """Splits a JSON-lines file into `parts` files of whole lines (round robin)."""
    names = [os.path.join(tmp, f"vm-part-{parts}-{i}.jsonl") for i in range(parts)]
    if all(os.path.exists(n) for n in names):
        return names
    outs = [open(n, "w") for n in names]
    with open(path) as f:
        for i, line in enumerate(f):
            outs[i % parts].write(line)
    for o in outs:
        o.close()
    return names


def run_vm(args, tmp, points, streams):
    data_dir = os.path.join(tmp, "vm")
    shutil.rmtree(data_dir, ignore_errors=True)
    port = free_port()
    server = subprocess.Popen(
        ["victoria-metrics", f"-storageDataPath={data_dir}", f"-httpListenAddr=127.0.0.1:{port}",
         "-retentionPeriod=100y", "-loggerLevel=ERROR"],
        stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "vm.log"), "w"))
    try:
        wait_port(port, server, "victoria-metrics")
        files = ([os.path.join(args.data, "kpi.vm.jsonl")] if streams == 1 else
                 split_lines(os.path.join(args.data, "kpi.vm.jsonl"), streams, tmp))
        t0 = time.monotonic()
        posts = [subprocess.Popen(["curl", "-sf", "-X", "POST", "-T", f,
                                   f"http://127.0.0.1:{port}/api/v1/import"]) for f in files]
        for post in posts:
            if post.wait() != 0:
                sys.exit(f"import into victoria-metrics failed (curl exit {post.returncode})")
        t1 = time.monotonic()
        urllib.request.urlopen(f"http://127.0.0.1:{port}/internal/force_flush", timeout=600).read()
        t2 = time.monotonic()
    finally:
        stop(server)
    return {"points": points, "seconds": t2 - t0, "ingest_s": t1 - t0, "flush_s": t2 - t1}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build", default="build-release")
    p.add_argument("--data", default="/tmp/kpi42")
    p.add_argument("--days", type=int, default=42)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--vm-streams", default="1,4")
    args = p.parse_args()
    streams = [int(x) for x in args.vm_streams.split(",")]
    for f in ("kpi.bin", "kpi.vm.jsonl"):
        if not os.path.exists(os.path.join(args.data, f)):
            sys.exit(f"{args.data}/{f} missing: DAYS={args.days} python3 ../shared/bench/gen_kpi.py {args.data}")
    if not shutil.which("victoria-metrics"):
        sys.exit("victoria-metrics missing: apt-get install victoria-metrics")
    kpidb, vm = [], {n: [] for n in streams}
    with tempfile.TemporaryDirectory(prefix="kpidb-sustained-") as tmp:
        for run in range(args.runs):
            k = run_kpidb(args, tmp)
            kpidb.append(k)
            line = (f"run {run + 1}: kpidb {k['points'] / k['seconds'] / 1e6:.2f} M points/s "
                    f"(ingest {k['ingest_s']:.2f} s + flush {k['flush_s']:.2f} s, "
                    f"{k['bytes_per_point']:.4f} B/pt)")
            for n in streams:
                v = run_vm(args, tmp, k["points"], n)
                vm[n].append(v)
                line += (f"; VictoriaMetrics x{n} {v['points'] / v['seconds'] / 1e6:.2f} M points/s "
                         f"(import {v['ingest_s']:.2f} s + force_flush {v['flush_s']:.2f} s)")
            print(line, flush=True)

    def median_rate(runs):
        return statistics.median(r["points"] / r["seconds"] for r in runs)

    k = median_rate(kpidb)
    medians = {n: median_rate(runs) for n, runs in vm.items()}
    for n, v in medians.items():
        print(f"median of {args.runs}: VictoriaMetrics with {n} import stream(s) {v / 1e6:.2f} M points/s")
    best = max(medians.values())
    print(f"median of {args.runs}: kpidb {k / 1e6:.2f} M points/s, best VictoriaMetrics {best / 1e6:.2f} "
          f"M points/s, ratio {k / best:.2f}x (target >= 2x)")


if __name__ == "__main__":
    main()
