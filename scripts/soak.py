#!/usr/bin/env python3
"""Soak test: many chat clients against one kvserve for a long time.

Starts `kvserve serve`, then runs --clients client threads for --minutes. Each
client holds a conversation (a session) and, turn after turn, at random:
streams a reply to the end, or hangs up after a few tokens (a disconnect), or
asks for one JSON reply (stream:false). Every few turns it deletes its session
and starts another. Meanwhile the server's resident memory is sampled.

Checked, and the run fails on any violation:
- no request is lost: every request that was not hung up on gets a complete
  answer (200 with token events numbered 0, 1, ... and exactly one done event
  whose text is theirs), or a clear refusal (409 while a hung-up turn is still
  being cancelled, retried);
- nothing is answered twice: no token index repeats, no second done event;
- a completed turn grows its session; a hung-up turn leaves it as it was
  (or, when the reply ended before the server saw the hang-up, complete),
  never shorter (GET /v1/sessions/{id});
- afterwards nothing is running, waiting or holding a KV block (/metrics);
- the server's RSS never exceeds its budget: the model file's size plus
  kv_cache_bytes plus 64 MiB.

Usage: scripts/soak.py [--kvserve .build/release/kvserve] [--minutes 10] [--clients 32]
Only the Python standard library is used.
"""
import argparse, http.client, json, os, random, shutil, signal, socket, subprocess, sys, tempfile, threading, time

from benchlib import free_port, sse_events

QUESTIONS = ["Tell me about {}.", "Why is that?", "Give me one example.", "Say it in one sentence.",
             "What else?", "Tell me more.", "Is that always true?", "Who first noticed it?"]
TOPICS = ["the moon", "bread", "rivers", "chess", "volcanoes", "bees", "trains", "music", "glaciers", "owls",
          "bridges", "tea", "comets", "maps", "forests", "clocks"]


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class Violations:
    def __init__(self):
        self.lock, self.items = threading.Lock(), []

    def add(self, text):
        with self.lock:
            self.items.append(text)
            print(f"soak: VIOLATION {text}", file=sys.stderr)


class Client(threading.Thread):
    def __init__(self, index, port, deadline, seed, violations):
        super().__init__(daemon=True)
        self.index, self.port, self.deadline, self.violations = index, port, deadline, violations
        self.random = random.Random(seed)
        self.counts = {"requests": 0, "completed": 0, "hung_up": 0, "json": 0, "refused_busy": 0, "rolled_back": 0,
                       "sessions": 0, "deleted": 0, "tokens": 0}

    def call(self, method, path, body=None, timeout=600):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        conn.request(method, path, body=None if body is None else json.dumps(body),
                     headers={"Content-Type": "application/json"})
        return conn, conn.getresponse()

    def session_tokens(self, session):
        """The session's token count once it is idle (None when it does not exist)."""
        end = time.time() + 10
        while True:
            conn, r = self.call("GET", f"/v1/sessions/{session}", timeout=30)
            body = r.read()
            conn.close()
            if r.status == 404:
                return None
            state = json.loads(body)
            if not state["busy"]:
                return state["tokens"]
            if time.time() > end:
                self.violations.add(f"{session} still busy 10 s after its turn ended")
                return state["tokens"]
            time.sleep(0.05)

    def turn(self, session, body, hang_up_after=None):
        """One request; returns its done payload, or None if hung up. Retries while the session is busy."""
        while True:
            self.counts["requests"] += 1
            conn, r = self.call("POST", "/v1/generate", body)
            if r.status == 409:  # the previous, hung-up turn is still being cancelled
                r.read(); conn.close()
                self.counts["refused_busy"] += 1
                time.sleep(0.05)
                continue
            if r.status != 200:
                self.violations.add(f"{session}: status {r.status}: {r.read()[:200]!r}")
                conn.close()
                return None
            if not body.get("stream", True):
                done = json.loads(r.read())
                conn.close()
                self.counts["json"] += 1
                return done
            tokens, done = [], []
            for event, payload in sse_events(r):
                (done if event == "done" else tokens).append(payload)
                if hang_up_after is not None and len(tokens) >= hang_up_after:
                    conn.sock.shutdown(socket.SHUT_RDWR)
                    conn.close()
                    self.counts["hung_up"] += 1
                    return None
            conn.close()
            indices = [t["index"] for t in tokens]
            if indices != list(range(len(tokens))):
                self.violations.add(f"{session}: token indices {indices[:10]}... not 0, 1, 2, ...")
            if len(done) != 1:
                self.violations.add(f"{session}: {len(done)} done events")
                return None
            if done[0]["text"] != "".join(t["text"] for t in tokens) or done[0]["usage"]["completion_tokens"] != len(tokens):
                self.violations.add(f"{session}: done event disagrees with the tokens streamed")
            self.counts["tokens"] += len(tokens)
            return done[0]

    def run(self):
        try:
            self.loop()
        except Exception as e:  # a lost request
            self.violations.add(f"client {self.index}: {e!r}")

    def loop(self):
        while time.time() < self.deadline:
            self.counts["sessions"] += 1
            session = f"soak-{self.index}-{self.counts['sessions']}"
            topic = self.random.choice(TOPICS)
            turns = self.random.randint(2, 8)
            before = None
            for t in range(turns):
                if time.time() >= self.deadline:
                    break
                question = QUESTIONS[t % len(QUESTIONS)].format(topic)
                messages = ([{"role": "system", "content": "You answer briefly."}] if before is None else []) + \
                    [{"role": "user", "content": question}]
                body = {"messages": messages, "session_id": session, "max_tokens": self.random.randint(4, 48),
                        "temperature": self.random.choice([0, 0.7]), "seed": self.random.randint(0, 1000)}
                roll = self.random.random()
                hang_up = self.random.randint(1, body["max_tokens"] // 2) if roll < 0.25 else None
                if roll > 0.85:
                    body["stream"] = False
                done = self.turn(session, body, hang_up)
                after = self.session_tokens(session)
                if hang_up is not None and done is None:
                    # Cancelled, the turn leaves the session as it was; but it
                    # may have ended before the server saw the hang-up, and
                    # then it is kept whole. Nothing else is allowed.
                    if after == before:
                        self.counts["rolled_back"] += 1
                    elif before is not None and (after is None or after < before):
                        self.violations.add(f"{session}: a hung-up turn lost history: {before} -> {after}")
                    before = after
                    continue
                if done is None:
                    continue
                self.counts["completed"] += 1
                if after is None or after <= (before or 0):
                    self.violations.add(f"{session}: a completed turn did not grow the session: {before} -> {after}")
                # Another conversation may share more than the history (the same
                # greedy reply to the same question), but the last token always runs.
                usage = done["usage"]
                if usage["cached_tokens"] > (before or 0) + usage["prompt_tokens"] - 1:
                    self.violations.add(f"{session}: {usage['cached_tokens']} tokens cached of {before} + {usage['prompt_tokens']}")
                before = after
            if before is not None:
                conn, r = self.call("DELETE", f"/v1/sessions/{session}")
                r.read(); conn.close()
                if r.status not in (200, 204):
                    self.violations.add(f"{session}: DELETE answered {r.status}")
                self.counts["deleted"] += 1


def metric(port, name):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def main():
    a = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    a.add_argument("--kvserve", default=".build/release/kvserve")
    a.add_argument("--model", default="models/SmolLM2-135M-Instruct.Q4_1.gguf")
    a.add_argument("--minutes", type=float, default=10)
    a.add_argument("--clients", type=int, default=32)
    a.add_argument("--kv-cache-mib", type=int, default=32, help="small, so that sessions are evicted")
    a.add_argument("--seed", type=int, default=1)
    args = a.parse_args()

    port = free_port()
    kv_bytes = args.kv_cache_mib << 20
    log = open("soak-server.log", "w")
    # A data directory of its own: no sessions or disk-tier blocks from earlier runs.
    data_dir = tempfile.mkdtemp(prefix="kvserve-soak-")
    server = subprocess.Popen([args.kvserve, "serve", "--set", f"port={port}", "--set", f"model={args.model}",
                               "--set", f"kv_cache_bytes={kv_bytes}", "--set", "max_batch_sequences=32",
                               "--set", f"data_dir={data_dir}"],
                              stdout=log, stderr=log, start_new_session=True)
    budget = os.path.getsize(args.model) + kv_bytes + (64 << 20)
    violations = Violations()
    try:
        end = time.time() + 120
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/health")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                pass
            if time.time() > end or server.poll() is not None:
                raise SystemExit("soak: the server did not start (see soak-server.log)")
            time.sleep(0.2)

        start = time.time()
        deadline = start + args.minutes * 60
        clients = [Client(i, port, deadline, args.seed * 1000 + i, violations) for i in range(args.clients)]
        for c in clients:
            c.start()
        peak, samples = 0, []
        while any(c.is_alive() for c in clients):
            if server.poll() is not None:
                violations.add(f"the server exited with status {server.returncode}")
                break
            rss = rss_bytes(server.pid)
            peak = max(peak, rss)
            samples.append(rss)
            if len(samples) % 60 == 0:
                done = sum(c.counts["completed"] for c in clients)
                print(f"soak: {time.time() - start:.0f} s, {done} turns completed, RSS {rss / 2**20:.1f} MiB", file=sys.stderr)
            time.sleep(1)
        for c in clients:
            c.join(timeout=600)
            if c.is_alive():
                violations.add(f"client {c.index} never finished its last request")
        elapsed = time.time() - start

        for name in ["kvserve_running_sequences", "kvserve_waiting_sequences", 'kvserve_kv_blocks{state="used"}']:
            if metric(port, name) != 0:
                violations.add(f"after the soak {name} = {metric(port, name)}")
        totals = {k: sum(c.counts[k] for c in clients) for k in clients[0].counts}
        if peak > budget:
            violations.add(f"peak RSS {peak / 2**20:.1f} MiB above the budget of {budget / 2**20:.1f} MiB")
        summary = {"minutes": round(elapsed / 60, 2), "clients": args.clients, **totals,
                   "evictions": metric(port, "kvserve_kv_evictions_total"),
                   "preemptions": metric(port, "kvserve_preemptions_total"),
                   "rss_first_mib": round(samples[0] / 2**20, 1) if samples else None,
                   "rss_last_mib": round(samples[-1] / 2**20, 1) if samples else None,
                   "rss_peak_mib": round(peak / 2**20, 1), "rss_budget_mib": round(budget / 2**20, 1),
                   "violations": len(violations.items)}
        print(json.dumps(summary, indent=2))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        shutil.rmtree(data_dir, ignore_errors=True)
    sys.exit(1 if violations.items else 0)


if __name__ == "__main__":
    main()
