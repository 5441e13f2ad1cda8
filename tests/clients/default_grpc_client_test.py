#!/usr/bin/python3
"""kpidb-server as a client nobody here wrote sees it: Python's grpcio (Debian's
python3-grpcio) at its default settings, which refuses any received message over
4 MiB, with stubs generated from proto/kpidb/v1/kpidb.proto by protoc.

Usage (CTest "default_grpc_client"): default_grpc_client_test.py SERVER_BIN GEN_DIR
GEN_DIR holds kpidb/v1/kpidb_pb2.py. The server listens on 127.0.0.1 on an ephemeral
port with a temporary data dir, and is stopped by its own PID."""
import math
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import unittest

SERVER_BIN = sys.argv[1]
sys.path.insert(0, sys.argv[2])
del sys.argv[1:3]

import grpc  # noqa: E402
from kpidb.v1 import kpidb_pb2 as pb  # noqa: E402

T0 = 1_767_225_600_000


def random_double(rng):
    """Any finite double, from its bits: every bit must come back."""
    while True:
        v = struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0]
        if math.isfinite(v):
            return v


def bits(v):
    return struct.pack("<d", v)


class Server:
    def __init__(self, data_parent=None, extra=()):
        self.dir = data_parent or tempfile.mkdtemp(prefix="kpidb-grpcio-")
        self.proc = subprocess.Popen(
            [SERVER_BIN, "--listen", "127.0.0.1:0", "--data-dir", self.dir + "/data",
             "--wal-sync", "none", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("listening on "):
            raise RuntimeError("server did not start: " + repr(line))
        self.address = line.split()[-1]

    def stop(self, keep_data=False, kill=False):
        self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        self.proc.wait(60)
        if not keep_data:
            shutil.rmtree(self.dir, ignore_errors=True)


def selector(metric="", **labels):
    s = pb.Selector(metric=metric)
    for name, value in labels.items():
        op, v = value if isinstance(value, tuple) else (pb.EQ, value)
        s.matchers.add(name=name, op=op, value=v)
    return s


class DefaultGrpcioClient(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server()
        cls.channel = grpc.insecure_channel(cls.server.address)  # every default
        ser = lambda m: m.SerializeToString()  # noqa: E731
        cls.write = cls.channel.unary_unary(
            "/kpidb.v1.WriteService/Write", request_serializer=ser,
            response_deserializer=pb.WriteResponse.FromString)
        cls.query = cls.channel.unary_stream(
            "/kpidb.v1.QueryService/QueryRange", request_serializer=ser,
            response_deserializer=pb.QueryRangeResponse.FromString)
        cls.list_series = cls.channel.unary_unary(
            "/kpidb.v1.QueryService/ListSeries", request_serializer=ser,
            response_deserializer=pb.ListSeriesResponse.FromString)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        cls.server.stop()

    def write_series(self, metric, labels, timestamps, values, batch=100_000):
        for i in range(0, len(timestamps), batch):
            req = pb.WriteRequest()
            s = req.series.add(metric=metric)
            for name, value in labels.items():
                s.labels.add(name=name, value=value)
            s.timestamps_ms.extend(timestamps[i:i + batch])
            s.values.extend(values[i:i + batch])
            self.write(req, timeout=60)

    def test_a_raw_query_of_a_20_mb_series_is_read_whole_and_bit_exact(self):
        rng = random.Random(7)
        n = 1_200_000  # ~20 MB of points: five times a default client's message limit
        ts = sorted(rng.sample(range(T0, T0 + 400 * n), n))
        vs = [random_double(rng) for _ in range(n)]
        vs[0], vs[1] = -0.0, 51.846000000000004
        self.write_series("kpi_big", {"channel": "email"}, ts, vs)
        got_ts, got_vs, messages = [], [], 0
        for m in self.query(pb.QueryRangeRequest(selector=selector("kpi_big"), start_ms=T0,
                                                 end_ms=T0 + 400 * n + 1), timeout=120):
            messages += 1
            self.assertLessEqual(m.ByteSize(), 4 << 20)
            self.assertEqual(m.metric, "kpi_big")
            self.assertEqual([(l.name, l.value) for l in m.labels], [("channel", "email")])
            got_ts.extend(m.timestamps_ms)
            got_vs.extend(m.values)
        self.assertGreater(messages, 4)
        self.assertEqual(got_ts, ts)
        self.assertEqual([bits(v) for v in got_vs], [bits(v) for v in vs])

    def test_the_trailers_say_whether_rollup_rows_or_points_served(self):
        ts = list(range(T0, T0 + 2 * 86_400_000, 10_000))  # two days at 10 s
        vs = [round(1000 + (t // 10_000) % 977 * 0.37, 2) for t in ts]
        self.write_series("kpi_dense", {"channel": "web"}, ts, vs)
        flush = self.channel.unary_unary("/kpidb.v1.AdminService/Flush",
                                         request_serializer=lambda m: m.SerializeToString(),
                                         response_deserializer=pb.FlushResponse.FromString)
        flush(pb.FlushRequest(), timeout=60)

        def run(**kw):
            call = self.query(pb.QueryRangeRequest(
                selector=selector("kpi_dense"), start_ms=T0, end_ms=T0 + 2 * 86_400_000,
                step_ms=3_600_000, aggregation=pb.MAX, **kw), timeout=60)
            values = [v for m in call for v in m.values]
            return values, dict(call.trailing_metadata())

        rows, served = run()
        self.assertEqual(len(rows), 48)
        self.assertEqual(served["kpidb-rollup-rows"], "48")
        self.assertEqual(served["kpidb-points-read"], "0")
        self.assertEqual(served["kpidb-series"], "1")
        raw, served = run(use_precomputed=False)
        self.assertEqual(served["kpidb-rollup-rows"], "0")
        self.assertEqual(int(served["kpidb-points-read"]), len(ts))
        self.assertEqual([bits(v) for v in raw], [bits(v) for v in rows])

    def test_an_empty_selector_is_invalid_argument(self):
        with self.assertRaises(grpc.RpcError) as e:
            list(self.query(pb.QueryRangeRequest(selector=pb.Selector(), start_ms=T0,
                                                 end_ms=T0 + 1000), timeout=30))
        self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("selects every series", e.exception.details())

    def test_a_name_matcher_selects_several_metrics(self):
        for metric in ("kpi_visits", "kpi_cac", "other_metric"):
            self.write_series(metric, {"channel": "web"}, [T0 + 1000], [2.5])
        got = [m.metric for m in self.query(pb.QueryRangeRequest(
            selector=selector(__name__=(pb.RE, "kpi_(visits|cac)")), start_ms=T0,
            end_ms=T0 + 2000), timeout=30)]
        self.assertEqual(got, ["kpi_cac", "kpi_visits"])

    def test_a_listing_too_large_for_one_message_is_resource_exhausted(self):
        req = pb.WriteRequest()
        for i in range(60_000):
            s = req.series.add(metric="kpi_many")
            s.labels.add(name="unit", value="u%06d" % i)
            s.labels.add(name="padding", value="x" * 60)
            s.timestamps_ms.append(T0)
            s.values.append(1.0)
        self.write(req, timeout=60)
        with self.assertRaises(grpc.RpcError) as e:
            self.list_series(pb.ListSeriesRequest(selector=selector("kpi_many")), timeout=60)
        self.assertEqual(e.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
        self.assertIn("max_response_message_bytes", e.exception.details())
        small = self.list_series(pb.ListSeriesRequest(
            selector=selector("kpi_many", unit=(pb.RE, "u00000[0-9]"))), timeout=60)
        self.assertEqual(len(small.series), 10)


class ManySeriesAcrossRestarts(unittest.TestCase):
    """20,000 sparse series over years, read back through grpcio at its defaults
    after a clean restart (the open maps series.idx) and after kill -9 (the WAL's
    new series on top of it)."""

    def stubs(self, server):
        channel = grpc.insecure_channel(server.address)
        ser = lambda m: m.SerializeToString()  # noqa: E731
        write = channel.unary_unary("/kpidb.v1.WriteService/Write", request_serializer=ser,
                                    response_deserializer=pb.WriteResponse.FromString)
        query = channel.unary_stream("/kpidb.v1.QueryService/QueryRange", request_serializer=ser,
                                     response_deserializer=pb.QueryRangeResponse.FromString)
        flush = channel.unary_unary("/kpidb.v1.AdminService/Flush", request_serializer=ser,
                                    response_deserializer=pb.FlushResponse.FromString)
        return channel, write, query, flush

    def write(self, write, first, count, rng, expected):
        req = pb.WriteRequest()
        for i in range(first, first + count):
            s = req.series.add(metric="kpi_wide")
            labels = {"unit": "u%05d" % i, "region": "r%d" % (i % 7)}
            for name, value in labels.items():
                s.labels.add(name=name, value=value)
            # 3 points at irregular times over ~3 years.
            ts = sorted(rng.sample(range(T0, T0 + 3 * 365 * 86_400_000, 1000), 3))
            vs = [random_double(rng) for _ in ts]
            s.timestamps_ms.extend(ts)
            s.values.extend(vs)
            expected["u%05d" % i] = (ts, vs)
        write(req, timeout=60)

    def check(self, query, expected):
        end = T0 + 3 * 365 * 86_400_000 + 1
        got = {}
        for m in query(pb.QueryRangeRequest(selector=selector("kpi_wide", region="r3"),
                                            start_ms=T0, end_ms=end), timeout=120):
            self.assertLessEqual(m.ByteSize(), 4 << 20)
            unit = dict((l.name, l.value) for l in m.labels)["unit"]
            ts, vs = got.setdefault(unit, ([], []))
            ts.extend(m.timestamps_ms)
            vs.extend(m.values)
        want = {u: tv for u, tv in expected.items() if int(u[1:]) % 7 == 3}
        self.assertEqual(sorted(got), sorted(want))
        for unit, (ts, vs) in want.items():
            self.assertEqual(got[unit][0], ts)
            self.assertEqual([bits(v) for v in got[unit][1]], [bits(v) for v in vs])
        few = {dict((l.name, l.value) for l in m.labels)["unit"]
               for m in query(pb.QueryRangeRequest(
                   selector=selector("kpi_wide", unit=(pb.RE, "u0001[0-9]")), start_ms=T0,
                   end_ms=end), timeout=60)}
        self.assertEqual(few, {"u%05d" % i for i in range(10, 20)})

    def test_series_survive_a_clean_restart_and_a_kill(self):
        rng = random.Random(11)
        expected = {}
        server = Server()
        data_parent = server.dir
        try:
            channel, write, _, flush = self.stubs(server)
            for first in range(0, 20_000, 5_000):
                self.write(write, first, 5_000, rng, expected)
            flush(pb.FlushRequest(), timeout=120)  # series.log, then series.idx at close
            channel.close()
            server.stop(keep_data=True)
            self.assertTrue(os.path.exists(data_parent + "/data/series.idx"))

            server = Server(data_parent)
            channel, write, query, _ = self.stubs(server)
            self.check(query, expected)
            self.write(write, 20_000, 10, rng, expected)  # acknowledged, then kill -9
            channel.close()
            server.stop(keep_data=True, kill=True)

            server = Server(data_parent)
            channel, _, query, _ = self.stubs(server)
            self.check(query, expected)
            channel.close()
        finally:
            server.stop()

    def test_a_snapshot_of_many_sparse_series_opens_with_every_point(self):
        """AdminService.Snapshot through grpcio at its defaults, on 20,000 sparse
        series over three years (half flushed to segments, half in the WAL):
        a server on the copy reads every point back; Stats counts what was
        written; a relative or used destination is refused with its reason."""
        rng = random.Random(12)
        expected = {}
        server = Server()
        copy = None
        dest = tempfile.mkdtemp(prefix="kpidb-grpcio-snap-")
        try:
            channel, write, _, flush = self.stubs(server)
            ser = lambda m: m.SerializeToString()  # noqa: E731
            snapshot = channel.unary_unary("/kpidb.v1.AdminService/Snapshot", request_serializer=ser,
                                           response_deserializer=pb.SnapshotResponse.FromString)
            stats = channel.unary_unary("/kpidb.v1.AdminService/Stats", request_serializer=ser,
                                        response_deserializer=pb.StatsResponse.FromString)
            self.write(write, 0, 10_000, rng, expected)
            flush(pb.FlushRequest(), timeout=120)
            self.write(write, 10_000, 10_000, rng, expected)
            self.assertEqual(stats(pb.StatsRequest(), timeout=60).points_written, 60_000)
            made = snapshot(pb.SnapshotRequest(dest_dir=dest + "/data"), timeout=120)
            self.assertGreater(made.segments, 0)
            self.assertEqual(made.segments_linked, made.segments)
            self.assertGreater(made.wal_files, 0)
            for bad, code, text in ((dest + "/data", grpc.StatusCode.FAILED_PRECONDITION, "is not empty"),
                                    ("relative/dir", grpc.StatusCode.INVALID_ARGUMENT, "dest_dir")):
                with self.assertRaises(grpc.RpcError) as err:
                    snapshot(pb.SnapshotRequest(dest_dir=bad), timeout=60)
                self.assertEqual(err.exception.code(), code)
                self.assertIn(text, err.exception.details())
            channel.close()
            copy = Server(dest)
            channel, _, query, _ = self.stubs(copy)
            self.check(query, expected)
            channel.close()
        finally:
            server.stop()
            if copy is not None:
                copy.stop()
            shutil.rmtree(dest, ignore_errors=True)

    def test_a_background_compaction_moves_old_days_into_30_day_files(self):
        """Sparse series over three years, flushed into a file a day: Compact with
        background=true answers at once, Stats shows the compactor at work until
        each old 30-day window is one file (days in recent windows keep theirs),
        and every point reads back bit for bit."""
        rng = random.Random(12)
        expected = {}
        server = Server()
        try:
            channel, write, query, flush = self.stubs(server)
            ser = lambda m: m.SerializeToString()  # noqa: E731
            stats = channel.unary_unary("/kpidb.v1.AdminService/Stats", request_serializer=ser,
                                        response_deserializer=pb.StatsResponse.FromString)
            compact = channel.unary_unary("/kpidb.v1.AdminService/Compact", request_serializer=ser,
                                          response_deserializer=pb.CompactResponse.FromString)
            self.write(write, 0, 5_000, rng, expected)
            flush(pb.FlushRequest(), timeout=120)
            before = stats(pb.StatsRequest(), timeout=60)
            self.assertTrue(before.compaction.automatic)
            started = time.time()
            self.assertEqual(compact(pb.CompactRequest(background=True), timeout=60).segments_merged, 0)
            self.assertLess(time.time() - started, 5)  # it did not wait for the merges
            deadline = time.time() + 300
            while True:
                now = stats(pb.StatsRequest(), timeout=60)
                c = now.compaction
                if c.merges > 0 and not c.running and c.backlog == 0:
                    break
                self.assertLess(time.time(), deadline, "the compactor did not finish: %s" % c)
                time.sleep(0.05)
            self.assertEqual(c.last_error, "")
            self.assertGreater(c.bytes_written, 0)
            day, window = 86_400_000, 30 * 86_400_000
            old_before = int(time.time() * 1000) - day  # partition_merge_after_ms
            files = set()
            for ts, _ in expected.values():
                for t in ts:
                    w = t // window
                    files.add(("w", w) if (w + 1) * window <= old_before else ("d", t // day))
            self.assertEqual(now.segments, len(files))
            self.assertLess(now.segments, before.segments)
            self.assertEqual(c.files_merged - c.merges, before.segments - now.segments)
            self.check(query, expected)
            channel.close()
        finally:
            server.stop()

    def test_retention_turned_on_expires_raw_points_and_keeps_exact_daily_rows(self):
        """Nine days of 5-minute points written with raw points kept for ever; the
        server restarted with --raw-retention 3d. Raw points older than that are never
        returned, and the trailers say so (kpidb-raw-expired-before-ms, and
        kpidb-incomplete while the files have no rows for them: written without
        retention, 5-minute data gets no hourly rows). Compact drops them and keeps
        daily rows, which then answer a daily max exactly (kpidb-served-by); a write of
        an expired point is INVALID_ARGUMENT naming it."""
        day = 86_400_000
        today = int(time.time() * 1000) // day * day
        ts = list(range(today - 9 * day, today - day, 300_000))
        vs = [round(10 + (t // 300_000) % 89 * 0.01, 2) for t in ts]
        data_parent = tempfile.mkdtemp(prefix="kpidb-grpcio-")
        server = Server(data_parent)
        try:
            channel, write, query, flush = self.stubs(server)
            req = pb.WriteRequest()
            s = req.series.add(metric="kpi_orders")
            s.labels.add(name="region", value="eu")
            s.timestamps_ms.extend(ts)
            s.values.extend(vs)
            write(req, timeout=60)
            flush(pb.FlushRequest(), timeout=60)
            channel.close()
        finally:
            server.stop(keep_data=True)
        server = Server(data_parent, ["--raw-retention", "3d", "--rollup-retention", "30d,forever",
                                      "--no-auto-compaction"])
        try:
            channel, write, query, flush = self.stubs(server)
            ser = lambda m: m.SerializeToString()  # noqa: E731
            stats = channel.unary_unary("/kpidb.v1.AdminService/Stats", request_serializer=ser,
                                        response_deserializer=pb.StatsResponse.FromString)
            compact = channel.unary_unary("/kpidb.v1.AdminService/Compact", request_serializer=ser,
                                          response_deserializer=pb.CompactResponse.FromString)

            def run(step_ms, aggregation):
                call = query(pb.QueryRangeRequest(
                    selector=selector("kpi_orders"), start_ms=today - 10 * day, end_ms=today,
                    step_ms=step_ms, aggregation=aggregation), timeout=60)
                points = [(t, v) for m in call for t, v in zip(m.timestamps_ms, m.values)]
                return points, dict(call.trailing_metadata())

            raw, served = run(0, pb.AVG)
            cutoff = int(served["kpidb-raw-expired-before-ms"])
            self.assertLess(abs(cutoff - (int(time.time() * 1000) - 3 * day)), 600_000)
            self.assertEqual(served["kpidb-incomplete"], "true")
            self.assertEqual(raw, [(t, v) for t, v in zip(ts, vs) if t >= cutoff])
            _, served = run(day, pb.MAX)
            self.assertEqual(served["kpidb-incomplete"], "true")  # no rows yet for old days

            compact(pb.CompactRequest(), timeout=300)
            st = stats(pb.StatsRequest(), timeout=60)
            self.assertEqual(st.retention.raw_retention_ms, 3 * day)
            self.assertEqual(list(st.retention.tier_steps_ms), [3_600_000, day])
            self.assertEqual(list(st.retention.tier_retention_ms), [30 * day, 0])
            self.assertGreater(st.retention.points_expired, 0)
            self.assertGreater(st.retention.rewrites, 0)

            daily, served = run(day, pb.MAX)
            want = {}
            for t, v in zip(ts, vs):
                want[t // day * day] = max(want.get(t // day * day, v), v)
            self.assertEqual(daily, sorted(want.items()))
            self.assertEqual(served["kpidb-incomplete"], "false")
            self.assertTrue(served["kpidb-served-by"].startswith("rollup:"), served)
            self.assertIn("86400000", served["kpidb-served-by"])

            old = pb.WriteRequest()
            s = old.series.add(metric="kpi_orders")
            s.labels.add(name="region", value="eu")
            s.timestamps_ms.append(today - 5 * day)
            s.values.append(1.0)
            with self.assertRaises(grpc.RpcError) as e:
                write(old, timeout=60)
            self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
            self.assertIn("older than the raw retention", e.exception.details())
            channel.close()
        finally:
            server.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
