#!/usr/bin/env python3
"""Helper of scripts/bench-collect.sh: the parts that speak HTTPS/JSON/TOML.

Subcommands (each prints plain text for the shell script; nothing is changed):

  hold-ports --refusing N --hanging M
      Holds N ports that refuse connections (bound, never listening: the kernel
      answers RST) and M ports that hang (listening with a big backlog, never
      accepting: the TCP handshake completes, then nothing is ever read or
      answered). Prints "refusing PORT" / "hanging PORT" lines, then "ready",
      and keeps the ports until killed.
  free-ports N
      Prints N distinct loopback ports that were free a moment ago.
  wait-polling TARGETS --timeout S
      Waits until every cluster of TARGETS has answered at least one
      /platform/1/statistics/current request. Exit 1 on timeout, naming laggards.
  missed TARGETS --config FILE --t0 T --t1 T [--label L]
      Missed cycles: reads each cluster's request log (/sim/log), keeps the
      /statistics/current requests read in [t0, t1), and compares them with the
      schedule that FILE (an idic.toml) calls for, from the key metadata the
      first cluster serves. Exit 2 when a cycle was missed.

TARGETS is a file with one line per simulated cluster:
  CONTROL_HOST CONTROL_PORT CLUSTER_NAME CA_FILE
(the control endpoint reached through CONTROL_HOST:CONTROL_PORT with
?cluster=NAME, so that one keep-alive connection serves a whole sim process).
"""

import argparse
import base64
import http.client
import json
import math
import socket
import ssl
import sys
import time
import tomllib
import urllib.parse

STATS_PATH = "/platform/1/statistics/current"
# What idic puts before the keys, and its limit for a request target (8198 is
# OneFS' limit; gostats 0.39 allows 8198 - 100 - len(base) bytes of keys: the
# same split for the example config).
STATS_BASE = STATS_PATH + "?degraded=true&devid=all&show_nodes=true"
MAX_TARGET = 8000
USER = "statsreader:s3kret"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    h = sub.add_parser("hold-ports")
    h.add_argument("--refusing", type=int, default=0)
    h.add_argument("--hanging", type=int, default=0)
    f = sub.add_parser("free-ports")
    f.add_argument("n", type=int)
    w = sub.add_parser("wait-polling")
    w.add_argument("targets")
    w.add_argument("--timeout", type=float, default=300)
    m = sub.add_parser("missed")
    m.add_argument("targets")
    m.add_argument("--config", required=True)
    m.add_argument("--t0", type=float, required=True)
    m.add_argument("--t1", type=float, required=True)
    m.add_argument("--label", default="")
    a = p.parse_args()
    if a.cmd == "hold-ports":
        hold_ports(a.refusing, a.hanging)
    elif a.cmd == "free-ports":
        free_ports(a.n)
    elif a.cmd == "wait-polling":
        sys.exit(wait_polling(read_targets(a.targets), a.timeout))
    elif a.cmd == "missed":
        sys.exit(missed(read_targets(a.targets), a.config, a.t0, a.t1, a.label))


class Target:
    def __init__(self, host, port, name, ca):
        self.host, self.port, self.name, self.ca = host, int(port), name, ca


def read_targets(path):
    with open(path) as f:
        return [Target(*line.split()) for line in f if line.strip()]


class Sims:
    """Keep-alive HTTPS connections to simulator processes, one per address."""

    def __init__(self):
        self.conns = {}

    def get(self, t, path, auth=False):
        key = (t.host, t.port)
        headers = {"Host": f"{t.host}:{t.port}"}
        if auth:
            headers["Authorization"] = "Basic " + base64.b64encode(USER.encode()).decode()
        for attempt in (1, 2):
            conn = self.conns.get(key)
            if conn is None:
                ctx = ssl.create_default_context(cafile=t.ca)
                conn = http.client.HTTPSConnection(t.host, t.port, context=ctx, timeout=30)
                self.conns[key] = conn
            try:
                conn.request("GET", path, headers=headers)
                r = conn.getresponse()
                body = r.read()
                return r.status, body
            except (OSError, http.client.HTTPException):
                conn.close()
                del self.conns[key]
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def control(self, t, what):
        sep = "&" if "?" in what else "?"
        status, body = self.get(t, f"/sim/{what}{sep}cluster={urllib.parse.quote(t.name)}")
        if status != 200:
            raise RuntimeError(f"/sim/{what} of {t.name}: HTTP {status}")
        return json.loads(body)


def hold_ports(refusing, hanging):
    held = []
    for _ in range(refusing):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        held.append(s)
        print("refusing", s.getsockname()[1])
    for _ in range(hanging):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(4096)
        held.append(s)
        print("hanging", s.getsockname()[1])
    print("ready", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


def free_ports(n):
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    for s in socks:
        print(s.getsockname()[1])
        s.close()


def wait_polling(targets, timeout):
    sims = Sims()
    deadline = time.time() + timeout
    waiting = list(targets)
    while True:
        waiting = [t for t in waiting if sims.control(t, "counters")["requests"].get(STATS_PATH, 0) == 0]
        if not waiting:
            return 0
        if time.time() > deadline:
            names = " ".join(t.name for t in waiting[:10])
            more = f" and {len(waiting) - 10} more" if len(waiting) > 10 else ""
            print(f"{len(waiting)} clusters never polled within {timeout:.0f} s: {names}{more}", file=sys.stderr)
            return 1
        time.sleep(1)


def schedule(config_path, sims, target):
    """The config's buckets for one cluster: {interval seconds: [keys]} and, per
    key, its interval. Follows idic's schedule.rs and gostats' calcBuckets."""
    with open(config_path, "rb") as f:
        conf = tomllib.load(f)
    g = conf.get("global", {})
    min_secs = int(g.get("min_update_interval_override", 30))
    by_group = bool(g.get("fetch_by_statgroup", False))
    groups = {sg["name"]: sg for sg in conf.get("statgroup", [])}
    buckets = {}
    key_interval = {}
    for name in g.get("active_stat_groups", []):
        sg = groups[name]
        ui = str(sg.get("update_interval", "*"))
        for key in sg.get("stats", []):
            own = key_meta_interval(sims, target, key)
            if own is None:
                continue  # unknown to the cluster: never fetched
            if not ui.startswith("*"):
                secs = int(float(ui))
            elif own == 0:
                secs = min_secs
            else:
                mult = float(ui[1:]) if len(ui) > 1 else 1.0
                secs = round(mult * own)
            secs = max(secs, min_secs, 1)
            bucket = (name if by_group else "", secs)
            buckets.setdefault(bucket, []).append(key)
            key_interval[key] = min(secs, key_interval.get(key, secs))
    return buckets, key_interval


_meta_cache = {}


def key_meta_interval(sims, target, key):
    """The key's update interval as a collector reads it (first non-persistent
    policy; 0 without one), or None when the cluster does not know the key."""
    if key not in _meta_cache:
        status, body = sims.get(target, f"/platform/1/statistics/keys/{urllib.parse.quote(key)}", auth=True)
        if status == 404:
            _meta_cache[key] = None
        elif status != 200:
            raise RuntimeError(f"key metadata {key}: HTTP {status}")
        else:
            entry = json.loads(body)["keys"][0]
            interval = 0
            for pol in entry.get("policies") or []:
                if pol.get("persistent") is False:
                    interval = int(pol.get("interval") or 0)
                    break
            _meta_cache[key] = interval
    return _meta_cache[key]


def requests_per_cycle(keys):
    """How many requests one cycle of these keys takes (split under MAX_TARGET)."""
    n, length = 0, None
    for key in keys:
        part = len("&key=" + urllib.parse.quote(key, safe=".-_~"))
        if length is None or length + part > MAX_TARGET:
            n, length = n + 1, len(STATS_BASE)
        length += part
    return n


def missed(targets, config_path, t0, t1, label):
    sims = Sims()
    buckets, key_interval = schedule(config_path, sims, targets[0])
    window = t1 - t0
    classes = {}  # interval -> requests per cycle
    for (_, secs), keys in buckets.items():
        classes[secs] = classes.get(secs, 0) + requests_per_cycle(keys)
    cycles_per_cluster = sum(window / i for i in classes)
    requests_per_cluster = sum(window / i * n for i, n in classes.items())
    desc = ", ".join(f"{len([k for k, v in key_interval.items() if v == i])} keys every {i} s"
                     + (f" ({n} requests)" if n > 1 else "")
                     for i, n in sorted(classes.items()))
    prefix = f"{label}: " if label else ""
    print(f"{prefix}schedule per cluster: {desc}; in {window:.1f} s: "
          f"{cycles_per_cluster:.1f} cycles, {requests_per_cluster:.1f} /statistics/current requests")

    total_missed = total_slots = total_counted = total_sched_req = 0
    behind = []
    short_logs = []
    deviations = []
    # enough of each log to reach back before t0 (all requests, not only
    # /statistics/current ones, land in it); the whole log when not
    limit = int(requests_per_cluster * (time.time() - t0) / window * 1.5) + 64
    for t in targets:
        log = sims.control(t, f"log?limit={limit}")["requests"]
        if len(log) == limit and log[0]["at"] >= t0:
            log = sims.control(t, "log")["requests"]
        if log and log[0]["at"] >= t0:
            short_logs.append(t.name)
        times = {i: [] for i in classes}
        counted = 0
        for e in log:
            if e["target"].split("?")[0] != STATS_PATH:
                continue
            counted += t0 <= e["at"] < t1
            ivals = [key_interval[k] for k in target_keys(e["target"]) if k in key_interval]
            if ivals:
                times.setdefault(min(ivals), []).append(e["at"])
        n_missed = n_slots = 0
        for i, ts in times.items():
            slots, unfilled, dev = slot_check(sorted(ts), i, classes.get(i, 1), t0, t1)
            n_slots += slots
            n_missed += unfilled
            deviations.extend(dev)
            total_sched_req += slots * classes.get(i, 1)
        total_missed += n_missed
        total_slots += n_slots
        total_counted += counted
        if n_missed:
            behind.append(f"{t.name} ({n_missed} of {n_slots} missed, {counted} requests)")
    n = len(targets)
    print(f"{prefix}/statistics/current requests in the window: {total_counted} counted, "
          f"{total_sched_req} scheduled ({n} clusters)")
    if short_logs:
        print(f"{prefix}WARNING: the request log of {len(short_logs)} clusters does not reach back to the "
              f"window's start ({short_logs[0]}...): raise onefs-sim --request-log; counts are low")
    if deviations:
        d = sorted(deviations)
        pct = lambda q: d[min(len(d) - 1, int(q * len(d)))] * 1000
        print(f"{prefix}cycle start jitter (from each cluster's own period): "
              f"median {pct(0.5):.0f} ms, p99 {pct(0.99):.0f} ms, max {d[-1] * 1000:.0f} ms")
    line = f"missed cycles: {total_missed} of {total_slots}"
    if behind:
        shown = ", ".join(behind[:20])
        more = f", and {len(behind) - 20} more" if len(behind) > 20 else ""
        line += f"; {len(behind)} clusters fell behind: {shown}{more}"
    print(prefix + line)
    return 2 if total_missed else 0


def slot_check(times, interval, per_cycle, t0, t1):
    """(slots, missed, deviations) of one interval class of one cluster in
    [t0, t1).

    Every per_cycle requests in a row are one cycle (a split cycle). The
    cluster's slots are its own phase (the median phase of all its cycles in the
    request log, inside the window or not) plus whole intervals. Missed: slots
    in the window minus cycles that started from half an interval before the
    first slot to half an interval after the last, so a cycle that falls a few
    milliseconds either side of the window's edge counts once, and a late cycle
    is still a cycle. Deviations: how far (seconds) each of those cycles
    started from its nearest slot. Without any cycle, the window's whole
    intervals are all missed."""
    starts = times[::per_cycle]
    if not starts:
        n = int((t1 - t0) // interval)
        return n, n, []
    ref = starts[0]
    offsets = sorted((c - ref + interval / 2) % interval - interval / 2 for c in starts)
    phase = ref + offsets[len(offsets) // 2]
    first = phase + math.ceil((t0 - phase) / interval) * interval
    slots = max(0, math.ceil((t1 - first) / interval))
    if slots == 0:
        return 0, 0, []
    last_slot = first + (slots - 1) * interval
    inside = [c for c in starts if first - interval / 2 <= c < last_slot + interval / 2]
    deviations = [abs((c - phase + interval / 2) % interval - interval / 2) for c in inside]
    return slots, max(0, slots - len(inside)), deviations


def target_keys(target):
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(target).query)
    keys = list(q.get("key", []))
    for ks in q.get("keys", []):
        keys.extend(k for k in ks.split(",") if k)
    return keys


if __name__ == "__main__":
    main()
