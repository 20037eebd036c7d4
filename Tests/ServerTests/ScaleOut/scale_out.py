#!/usr/bin/env python3
"""kvserve scaled out on loopback, checked end to end.

Starts Debian's PostgreSQL (as the postgres user when run as root), three
`kvserve serve` replicas sharing it (session_store postgres://...), and
nginx with the repository's deploy/nginx/kvserve.conf in front of them
(this harness writes only the two small files that say where nginx listens
and where the replicas are). Then runs one scenario:

  affinity   24 conversations of 4 turns: every turn of a conversation is
             answered by one replica (X-Kvserve-Replica), and each
             follow-up finds its whole history cached.
  failover   the same workload; one replica is killed with SIGKILL after a
             third of the turns. Every conversation completes; each reply
             equals an uninterrupted run's (greedy, bit-identical
             batching); every session holds exactly its 4 turns.
  rolling    the same workload while the replicas are restarted one at a
             time (SIGTERM, wait for the exit, start, wait 2.5 s so that nginx
             routes to it again): no request fails, replies equal.
  database   the same workload while PostgreSQL is stopped for 4 s and
             started again: session turns get 503 store_unavailable (and
             are retried by the client), stateless requests keep getting
             200, and everything completes with the reference replies.

The reference replies come from one more replica, run uninterrupted with
the same conversations before the scenario. Prints what it measured and
exits 1 on any failed check. Standard library only.

Usage: scale_out.py SCENARIO --kvserve PATH --model PATH [--repo DIR]
"""
import argparse, glob, http.client, json, os, pwd, shutil, signal, socket, subprocess, sys, tempfile, threading, time

CONVERSATIONS, TURNS, MAX_TOKENS = 24, 4, 12
TOPICS = ["rivers", "bread", "owls", "trains", "comets", "tea", "chess", "maps", "bees", "clocks", "glaciers", "bridges"]
FOLLOW_UPS = [" Tell me more.", " Why is that?", " Give one example."]
failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print("FAIL:", message, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, seconds, what):
    end = time.time() + seconds
    while time.time() < end:
        try:
            if predicate():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"timed out waiting for {what}")


def get(port, path, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", path, headers=headers or {})
    r = c.getresponse()
    return r.status, r.read()


class Postgres:
    def __init__(self, root):
        self.dir = os.path.join(root, "pg")
        os.makedirs(self.dir)
        self.port = free_port()
        self.bin = sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1]
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")
        self.run("initdb", "-D", self.dir, "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()

    def run(self, tool, *args):
        command = [os.path.join(self.bin, tool), *args]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

    def start(self):
        self.run("pg_ctl", "-D", self.dir, "-l", os.path.join(self.dir, "log"), "-w", "start",
                 "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off")

    def stop(self):
        self.run("pg_ctl", "-D", self.dir, "-m", "fast", "-w", "stop")

    @property
    def url(self):
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres?sslmode=disable"


class Replica:
    def __init__(self, name, kvserve, model, store, root):
        self.name, self.kvserve, self.model, self.store = name, kvserve, model, store
        self.data = os.path.join(root, name)
        os.makedirs(self.data, exist_ok=True)
        self.port = free_port()
        self.process = None
        self.start()

    def start(self):
        self.log = open(os.path.join(self.data, "log"), "ab")
        self.process = subprocess.Popen(
            [self.kvserve, "serve", "--set", f"model={self.model}", "--set", f"port={self.port}",
             "--set", f"replica_name={self.name}", "--set", f"session_store={self.store}", "--set", f"data_dir={self.data}",
             "--set", "kv_cache_bytes=134217728", "--set", "threads=1", "--set", "shutdown_grace_seconds=20"],
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(lambda: get(self.port, "/health")[0] == 200, 120, f"{self.name} to start")

    def kill(self, sig=signal.SIGKILL):
        self.process.send_signal(sig)
        self.process.wait(60)

    def restart(self):
        self.kill(signal.SIGTERM)
        check(self.process.returncode == 0, f"{self.name} exited {self.process.returncode} on SIGTERM")
        self.start()


class Nginx:
    def __init__(self, root, repo, replicas):
        self.prefix = os.path.join(root, "nginx")
        os.makedirs(os.path.join(self.prefix, "tmp"))
        self.port = free_port()
        with open(os.path.join(self.prefix, "kvserve-listen.conf"), "w") as f:
            f.write(f"listen 127.0.0.1:{self.port};\n")
        with open(os.path.join(self.prefix, "kvserve-upstreams.conf"), "w") as f:
            for r in replicas:
                f.write(f"server 127.0.0.1:{r.port} max_fails=1 fail_timeout=2s;\n")
        user = "user root;\n" if os.geteuid() == 0 else ""
        tmp = os.path.join(self.prefix, "tmp")
        with open(os.path.join(self.prefix, "nginx.conf"), "w") as f:
            f.write(f"""{user}worker_processes 1;
daemon off;
pid {self.prefix}/nginx.pid;
error_log {self.prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy; fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
    include {repo}/deploy/nginx/kvserve.conf;
}}
""")
        self.process = subprocess.Popen(["nginx", "-p", self.prefix, "-c", os.path.join(self.prefix, "nginx.conf"),
                                         "-e", os.path.join(self.prefix, "error.log")],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_for(lambda: get(self.port, "/nginx-health")[0] == 200, 30, "nginx to start")

    def stop(self):
        self.process.send_signal(signal.SIGQUIT)
        self.process.wait(30)


def turn_prompt(conversation, turn):
    if turn == 0:
        return f"Conversation {conversation}. A short note about {TOPICS[conversation % len(TOPICS)]}:"
    return FOLLOW_UPS[(conversation + turn) % len(FOLLOW_UPS)]


def generate(port, body, session=None):
    """(status, reply headers, JSON) of one non-streaming /v1/generate; status 0 for a broken connection."""
    headers = {"Content-Type": "application/json"}
    if session:
        headers["X-Session-Id"] = session
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        c.request("POST", "/v1/generate", json.dumps(body), headers)
        r = c.getresponse()
        data = r.read()
        return r.status, dict(r.getheaders()), json.loads(data) if data else {}
    except (OSError, http.client.HTTPException, json.JSONDecodeError):
        return 0, {}, {}


class Conversations:
    """Runs CONVERSATIONS conversations of TURNS turns on `port`, six at a
    time, retrying a turn that failed (a broken connection, 502, 503, 409)
    until it completes. Records each turn's reply, replica and usage, and
    every failed attempt."""

    def __init__(self, port, prefix):
        self.port, self.prefix = port, prefix
        self.replies = {c: [None] * TURNS for c in range(CONVERSATIONS)}
        self.replicas = {c: [None] * TURNS for c in range(CONVERSATIONS)}
        self.usage = {c: [None] * TURNS for c in range(CONVERSATIONS)}
        self.attempts_failed = []
        self.turns_done = 0
        self.lock = threading.Lock()

    def session(self, c):
        return f"{self.prefix}-{c}"

    def run_conversation(self, c):
        for t in range(TURNS):
            body = {"prompt": turn_prompt(c, t), "max_tokens": MAX_TOKENS, "temperature": 0, "ignore_eos": True,
                    "stream": False}
            for attempt in range(200):
                status, headers, reply = generate(self.port, body, self.session(c))
                if status == 200:
                    break
                with self.lock:
                    self.attempts_failed.append((c, t, status, reply.get("error", {}).get("type", "")))
                time.sleep(0.25)
            else:
                check(False, f"conversation {c} turn {t} never completed (last status {status})")
                return
            with self.lock:
                self.replies[c][t] = reply["text"]
                self.replicas[c][t] = headers.get("X-Kvserve-Replica")
                self.usage[c][t] = reply["usage"]
                self.turns_done += 1

    def run(self, during=None, workers=6):
        queue = list(range(CONVERSATIONS))
        lock = threading.Lock()

        def worker():
            while True:
                with lock:
                    if not queue:
                        return
                    c = queue.pop(0)
                self.run_conversation(c)

        threads = [threading.Thread(target=worker) for _ in range(workers)]
        for t in threads:
            t.start()
        if during:
            during(self)
        for t in threads:
            t.join()


def reference(replica):
    """The replies of an uninterrupted run, straight to one replica."""
    ref = Conversations(replica.port, "reference")
    ref.run()
    return ref.replies


def check_replies(run, expected):
    wrong = [(c, t) for c in range(CONVERSATIONS) for t in range(TURNS) if run.replies[c][t] != expected[c][t]]
    check(not wrong, f"{len(wrong)} replies differ from the uninterrupted run, first {wrong[:3]}")
    print(f"replies equal to the uninterrupted run: {CONVERSATIONS * TURNS - len(wrong)}/{CONVERSATIONS * TURNS}")


def check_sessions(nginx, run):
    """Each session holds exactly its TURNS turns (none lost, none twice)."""
    turns = []
    for c in range(CONVERSATIONS):
        status, body = get(nginx.port, f"/v1/sessions/{run.session(c)}", {"X-Session-Id": run.session(c)})
        turns.append(json.loads(body).get("turns") if status == 200 else None)
    check(all(t == TURNS for t in turns), f"sessions' turns {turns}, expected {TURNS} each")
    print(f"sessions holding exactly {TURNS} turns: {sum(t == TURNS for t in turns)}/{CONVERSATIONS}")


def check_affinity(run, alive=lambda name: True):
    """Every turn of a conversation on one replica, while that replica lives."""
    moved = [c for c in range(CONVERSATIONS) if len(set(run.replicas[c])) != 1 and all(alive(r) for r in run.replicas[c])]
    check(not moved, f"conversations answered by more than one replica: {moved}")
    spread = {}
    for c in range(CONVERSATIONS):
        spread[run.replicas[c][0]] = spread.get(run.replicas[c][0], 0) + 1
    print(f"conversations per replica: {dict(sorted(spread.items()))}")


def check_cached(run):
    """A follow-up finds everything before it cached but the last reply
    token (sampled, never run)."""
    misses = []
    for c in range(CONVERSATIONS):
        history = 0
        for t in range(TURNS):
            u = run.usage[c][t]
            if t > 0 and u["cached_tokens"] != history - 1:
                misses.append((c, t, u["cached_tokens"], history - 1))
            history += u["prompt_tokens"] + u["completion_tokens"]
    check(not misses, f"follow-ups that did not find their history cached: {misses[:5]}")
    print(f"follow-ups with their whole history cached: {CONVERSATIONS * (TURNS - 1) - len(misses)}/{CONVERSATIONS * (TURNS - 1)}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("scenario", choices=["affinity", "failover", "rolling", "database"])
    p.add_argument("--kvserve", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--repo", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
    a = p.parse_args()
    root = tempfile.mkdtemp(prefix="kvserve-scale-")
    os.chmod(root, 0o755)
    pg = replicas = nginx = None
    try:
        pg = Postgres(root)
        replicas = [Replica(f"replica-{i + 1}", a.kvserve, a.model, pg.url, root) for i in range(3)]
        nginx = Nginx(root, os.path.abspath(a.repo), replicas)
        print(f"up: PostgreSQL :{pg.port}, replicas {[r.port for r in replicas]}, nginx :{nginx.port}", flush=True)
        expected = None if a.scenario == "affinity" else reference(replicas[0])
        run = Conversations(nginx.port, a.scenario)

        if a.scenario == "affinity":
            run.run()
            check(not run.attempts_failed, f"failed attempts: {run.attempts_failed[:5]}")
            check_affinity(run)
            check_cached(run)
        elif a.scenario == "failover":
            victim = {}

            def kill_one(r):
                wait_for(lambda: r.turns_done >= CONVERSATIONS * TURNS // 3, 600, "a third of the turns")
                # The replica that has answered the most turns so far.
                with r.lock:
                    names = [n for c in range(CONVERSATIONS) for n in r.replicas[c] if n]
                name = max(set(names), key=names.count)
                victim["name"] = name
                next(x for x in replicas if x.name == name).kill()
                print(f"killed {name} (SIGKILL) after {r.turns_done} turns", flush=True)

            run.run(during=kill_one)
            check_replies(run, expected)
            check_sessions(nginx, run)
            check_affinity(run, alive=lambda name: name != victim["name"])
            print(f"failed attempts, retried: {len(run.attempts_failed)} ({sorted(set(s for *_, s, _ in run.attempts_failed))})")
        elif a.scenario == "rolling":
            def restart_all(r):
                for replica in replicas:
                    wait_for(lambda: r.turns_done >= 4, 600, "turns to start")
                    replica.restart()
                    print(f"restarted {replica.name} at {r.turns_done} turns", flush=True)
                    check(r.turns_done < CONVERSATIONS * TURNS, f"{replica.name} restarted after the workload ended")
                    # As an operator would: the next one only once nginx
                    # routes to this one again (after fail_timeout, 2 s).
                    time.sleep(2.5)

            # Fewer clients, so that the workload outlasts three restarts.
            run.run(during=restart_all, workers=2)
            check(not run.attempts_failed, f"requests failed during the rolling restart: {run.attempts_failed[:5]}")
            check_replies(run, expected)
            check_sessions(nginx, run)
        else:
            outage = {"stateless_ok": 0, "stateless_failed": 0, "session_503": 0}

            def database_outage(r):
                wait_for(lambda: r.turns_done >= CONVERSATIONS * TURNS // 4, 600, "a quarter of the turns")
                pg.stop()
                stopped = time.time()
                print(f"PostgreSQL stopped at {r.turns_done} turns", flush=True)
                while time.time() - stopped < 4:
                    status, _, _ = generate(nginx.port, {"prompt": "Stateless: name a colour.", "max_tokens": 4,
                                                         "temperature": 0, "stream": False})
                    outage["stateless_ok" if status == 200 else "stateless_failed"] += 1
                pg.start()
                print(f"PostgreSQL started again at {r.turns_done} turns", flush=True)

            run.run(during=database_outage)
            outage["session_503"] = sum(1 for *_, s, kind in run.attempts_failed if s == 503 and kind == "store_unavailable")
            print(f"during the outage: {outage}; failed session attempts: {sorted(set((s, k) for *_, s, k in run.attempts_failed))}")
            check(outage["stateless_ok"] > 0 and outage["stateless_failed"] == 0, f"stateless requests during the outage: {outage}")
            check(outage["session_503"] > 0, "no session turn got 503 store_unavailable while the database was down")
            check(all(s == 503 for *_, s, _ in run.attempts_failed), f"other failures than 503: {run.attempts_failed[:5]}")
            check_replies(run, expected)
            check_sessions(nginx, run)
    finally:
        for r in replicas or []:
            if r.process and r.process.poll() is None:
                r.kill(signal.SIGTERM)
        if nginx:
            nginx.stop()
        if pg:
            try:
                pg.stop()
            except subprocess.CalledProcessError:
                pass
        if not failures:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"logs kept in {root}")
    print("PASS" if not failures else f"{len(failures)} checks failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
