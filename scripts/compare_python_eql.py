#!/usr/bin/env python3
"""Compare ferret with the Python `eql` package (PyPI eql==1.0.1), the only
other engine that runs EQL outside Elasticsearch, on the rules it can run,
over the same events, in the same session (issue 5 item 4).

    python3 -m venv /tmp/eql-venv && /tmp/eql-venv/bin/pip install eql==1.0.1
    /tmp/eql-venv/bin/python scripts/compare_python_eql.py \
        --ferret /tmp/target-perf/release/ferret --events /tmp/bench-100k.ndjson

What it does:
1. Parses every EQL rule of the corpus with eql's Elasticsearch syntax and
   counts those it accepts.
2. Screens the accepted rules one by one on the events of the all-rules run
   (the first --all-events) and keeps those eql evaluates without raising (it
   crashes on ECS arrays such as `process.args` for many rules).
3. Times eql on the seed rule over --events (all of them), and on all runnable
   rules at once over the first --all-events events, reading and decoding the
   JSON included; times `ferret scan` (start-up and rule loading included) on
   the same rule files over the same events. Prints a Markdown table.

Events are given to eql with their first `event.category` as the event type
and `@timestamp` as the time, as its ECS examples do.
"""

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
import tomllib
from datetime import datetime

import eql  # run with the venv's python


def load_rules(root):
    rules = []
    for dirpath, _, files in os.walk(root):
        for f in sorted(files):
            if not f.endswith(".toml"):
                continue
            path = os.path.join(dirpath, f)
            try:
                doc = tomllib.load(open(path, "rb"))
            except Exception:
                continue
            rule = doc.get("rule", {})
            if rule.get("language") == "eql" and "query" in rule:
                rules.append((path, rule["query"]))
    return sorted(rules)


def parse(query):
    with eql.parser.elasticsearch_syntax, eql.parser.ignore_missing_functions:
        return eql.parse_query(query)


def to_millis(ts):
    return int(datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() * 1000)


def read_events(path, limit):
    out = []
    with open(path) as f:
        for line in itertools.islice(f, limit):
            doc = json.loads(line)
            cat = doc.get("event", {}).get("category")
            if isinstance(cat, list):
                cat = cat[0] if cat else "unknown"
            out.append(eql.Event(cat or "unknown", to_millis(doc["@timestamp"]), doc))
    return out


def run_eql(queries, events):
    """Hits and seconds for `queries` evaluated together over `events`."""
    hits = [0]
    engine = eql.PythonEngine({"flatten": True})
    engine.add_output_hook(lambda _: hits.__setitem__(0, hits[0] + 1))
    engine.add_queries(queries)
    start = time.perf_counter()
    engine.stream_events(events)
    engine.finalize()
    return hits[0], time.perf_counter() - start


def run_ferret(ferret, rule_paths, events_file):
    """Alerts and seconds of `ferret scan` (wall clock, start-up included)."""
    args = [ferret, "scan", "-q", "--format", "ndjson"]
    for p in rule_paths:
        args += ["--rules", p]
    start = time.perf_counter()
    out = subprocess.run(args + [events_file], capture_output=True, check=False)
    secs = time.perf_counter() - start
    return out.stdout.count(b"\n"), secs


def head(src, n, dst):
    with open(src) as f, open(dst, "w") as o:
        o.writelines(itertools.islice(f, n))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ferret", required=True)
    ap.add_argument("--events", required=True, help="NDJSON events (the 100k benchmark file)")
    ap.add_argument("--shared", default=os.path.join(os.path.dirname(__file__), "../../shared"))
    ap.add_argument("--all-events", type=int, default=5000, help="events for the all-rules run")
    a = ap.parse_args()

    corpus = os.path.join(a.shared, "corpus/detection-rules")
    seed = os.path.join(a.shared, "seed/persistence_systemd_netcon.toml")
    rules = load_rules(corpus)
    parsed = []
    for path, q in rules:
        try:
            parsed.append((path, parse(q)))
        except Exception:
            pass
    print(f"corpus EQL rules: {len(rules)}; parsed by eql 1.0.1: {len(parsed)}", file=sys.stderr)

    screen = read_events(a.events, a.all_events)
    runnable = []
    for path, q in parsed:
        try:
            run_eql([q], screen)
            runnable.append((path, q))
        except Exception:
            pass
    print(f"runnable without error on {a.all_events} events: {len(runnable)}", file=sys.stderr)

    # eql's times include reading and decoding the JSON, as ferret's do.
    n_all = sum(1 for _ in open(a.events))
    rows = []
    seed_q = parse(tomllib.load(open(seed, "rb"))["rule"]["query"])
    start = time.perf_counter()
    events = read_events(a.events, n_all)
    hits, secs = run_eql([seed_q], events)
    secs = time.perf_counter() - start
    f_hits, f_secs = run_ferret(a.ferret, [seed], a.events)
    rows.append(("seed rule", 1, n_all, secs, hits, f_secs, f_hits))
    del events

    small = os.path.join(tempfile.gettempdir(), f"compare-eql-{a.all_events}.ndjson")
    head(a.events, a.all_events, small)
    start = time.perf_counter()
    events = read_events(small, a.all_events)
    hits, secs = run_eql([q for _, q in runnable], events)
    secs = time.perf_counter() - start
    f_hits, f_secs = run_ferret(a.ferret, [p for p, _ in runnable], small)
    rows.append(("all rules eql can run", len(runnable), a.all_events, secs, hits, f_secs, f_hits))

    print(f"| workload | rules | events | eql 1.0.1 | eql events/s | ferret | ferret events/s | speed-up |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, n, ev, s, h, fs, fh in rows:
        print(
            f"| {name} | {n} | {ev} | {s:.2f} s ({h} hits) | {ev / s:,.0f} | "
            f"{fs:.2f} s ({fh} alerts) | {ev / fs:,.0f} | {s / fs:.1f}x |"
        )
    print(
        f"\neql 1.0.1 parsed {len(parsed)} of {len(rules)} corpus EQL rules and ran "
        f"{len(runnable)} of them without raising on the first {a.all_events} events.\n"
        "Hit counts differ by design: eql matches one event type per event (the first "
        "`event.category`), lacks `runs`/missing stages, and ferret applies index scoping."
    )


if __name__ == "__main__":
    main()
