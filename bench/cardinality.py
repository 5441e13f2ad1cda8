#!/usr/bin/env python3
"""kpidb-server on a many-series shape, on loopback: N series of kpi_load{shard, unit,
l3..lLABELS} with 10 points each, written through the C++ client by kpidb-loadgen
(--mode synthetic). The same shape as ../shared/bench/vm_cardinality.py, so that the
two print comparable lines. Prints the time to create and write the series (ingest +
flush), the server's peak memory, the time to reopen (start to `listening on`), and its
memory after reopening (1 s idle).

Usage: bench/cardinality.py [N [LABELS [BUILD_DIR]]]
  (default 400000 series, 2 labels, build-release; BUILD_DIR holds server/kpidb-server
  and bench/kpidb-loadgen, built with -DCMAKE_BUILD_TYPE=Release)"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

n = int(sys.argv[1]) if len(sys.argv) > 1 else 400_000
nlabels = int(sys.argv[2]) if len(sys.argv) > 2 else 2
build = sys.argv[3] if len(sys.argv) > 3 else "build-release"
server_bin = os.path.join(build, "server", "kpidb-server")
loadgen_bin = os.path.join(build, "bench", "kpidb-loadgen")


def kib(pid, key):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise RuntimeError(key + " not found")


def up(data_dir):
    t = time.time()
    p = subprocess.Popen([server_bin, "--listen", "127.0.0.1:0", "--data-dir", data_dir],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = p.stdout.readline()
    if not line.startswith("listening on "):
        raise RuntimeError("server did not start: " + repr(line))
    return p, line.split()[-1], time.time() - t


def down(p):
    p.send_signal(signal.SIGTERM)
    p.wait(300)


d = tempfile.mkdtemp(prefix="kpidb-cardinality-")
try:
    p, address, _ = up(d + "/data")
    out = subprocess.run([loadgen_bin, "--server", address, "--server-pid", str(p.pid),
                          "--mode", "synthetic", "--series", str(n), "--points", "10",
                          "--labels", str(nlabels), "--writers", "4"],
                         check=True, capture_output=True, text=True).stdout
    ingest = float(re.search(r"points in ([0-9.]+) s", out).group(1))
    flush = float(re.search(r"flush: ([0-9.]+) s", out).group(1))
    peak = kib(p.pid, "VmHWM")
    down(p)
    p, address, reopen = up(d + "/data")
    time.sleep(1)
    idle = kib(p.pid, "VmRSS")
    idle_anon, idle_file = kib(p.pid, "RssAnon"), kib(p.pid, "RssFile")
    down(p)
    print(f"kpidb, {n} series ({nlabels} labels) x 10 points: create {ingest + flush:.2f} s "
          f"(ingest {ingest:.2f} + flush {flush:.2f}), peak {peak >> 10} MiB, "
          f"reopen {reopen:.2f} s, idle {idle >> 10} MiB "
          f"(heap {idle_anon >> 10}, mapped files {idle_file >> 10})")
finally:
    shutil.rmtree(d, ignore_errors=True)
