#!/usr/bin/env python3
"""VictoriaMetrics (Debian's victoria-metrics) on the sparse, real-shaped data set of
bench/sparse_workload.h, on loopback: the anchor for sparse_bench's bytes per point.
Writes the data set with `sparse_bench --dump-jsonl`, imports it (JSON lines), flushes and
force-merges every partition, waits for the merges to settle, and prints the storage
dir's bytes per point and how many values VictoriaMetrics returns with other bits than
were written (it rounds some values to fit its decimal encoding).

Usage: bench/sparse_vm.py [BUILD_DIR]   (default build-release; needs bench/sparse_bench)"""
import json, os, shutil, signal, struct, subprocess, sys, tempfile, time, urllib.request

build = sys.argv[1] if len(sys.argv) > 1 else "build-release"
if shutil.which("victoria-metrics") is None:
    sys.exit("victoria-metrics is not installed (apt-get install victoria-metrics)")
port = 18599


def dir_bytes(path):
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:
                pass
    return total


def get(path):
    return urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=600).read()


d = tempfile.mkdtemp(prefix="vm-sparse-")
try:
    src = os.path.join(d, "in.jsonl")
    subprocess.run([os.path.join(build, "bench", "sparse_bench"), "--dump-jsonl", src], check=True)
    written = {}
    points = 0
    for line in open(src):
        o = json.loads(line)
        key = tuple(sorted(o["metric"].items()))
        written[key] = dict(zip(o["timestamps"], o["values"]))
        points += len(o["values"])
    p = subprocess.Popen(["victoria-metrics", f"-storageDataPath={d}/data",
                          f"-httpListenAddr=127.0.0.1:{port}", "-retentionPeriod=100y",
                          "-loggerLevel=ERROR"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                get("/health")
                break
            except OSError:
                time.sleep(0.05)
        subprocess.run(["curl", "-sS", "--fail", "-X", "POST", "-T", src,
                        f"http://127.0.0.1:{port}/api/v1/import"], check=True)
        get("/internal/force_flush")
        get("/internal/force_merge")
        # Merges run in the background: wait until the size holds still.
        last, stable = -1, 0
        while stable < 5:
            time.sleep(1)
            now = dir_bytes(f"{d}/data")
            stable = stable + 1 if now == last else 0
            last = now
        size = dir_bytes(f"{d}/data")
        # What comes back, bit for bit.
        body = get("/api/v1/export?match[]={__name__=~\".+\"}&start=0&end=4102444800").decode()
        differ = 0
        for line in body.splitlines():
            o = json.loads(line)
            want = written[tuple(sorted(o["metric"].items()))]
            for t, v in zip(o["timestamps"], o["values"]):
                if struct.pack("<d", float(v)) != struct.pack("<d", float(want[t])):
                    differ += 1
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(120)
    print(f"VictoriaMetrics, sparse workload: {points} points, {size / points:.3f} bytes/point "
          f"after merge (storage dir {size} bytes); {differ} values returned with other bits "
          f"({differ / points:.2%})")
finally:
    shutil.rmtree(d, ignore_errors=True)
