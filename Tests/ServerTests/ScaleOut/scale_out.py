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
  responses  Responses API chains (previous_response_id) through nginx
             with no session header, so hops land on any replica: every
             hop finds the response it continues, whichever replica stored
             it, and the replies equal a chain run on one replica.
  database   the same workload while PostgreSQL is stopped for 4 s and
             started again: session turns get 503 store_unavailable (and
             are retried by the client), stateless requests keep getting
             200, and everything completes with the reference replies.

The reference replies come from one more replica, run uninterrupted with
the same conversations before the scenario. Prints what it measured and
exits 1 on any failed check. Standard library only.

Usage: scale_out.py SCENARIO --kvserve PATH --model PATH [--repo DIR]
"""
import argparse, http.client, json, os, shutil, signal, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "scripts"))
from topology import Nginx, Postgres, Replica, get, tear_down, wait_for  # noqa: E402

CONVERSATIONS, TURNS, MAX_TOKENS = 24, 4, 12
TOPICS = ["rivers", "bread", "owls", "trains", "comets", "tea", "chess", "maps", "bees", "clocks", "glaciers", "bridges"]
FOLLOW_UPS = [" Tell me more.", " Why is that?", " Give one example."]
failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print("FAIL:", message, flush=True)


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
        # Seconds a client waits before each turn, as a person reading the reply would.
        self.think = 0

    def session(self, c):
        return f"{self.prefix}-{c}"

    def run_conversation(self, c):
        for t in range(TURNS):
            time.sleep(self.think)
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


CHAINS, HOPS = 6, 4


def response_chain(port, chain):
    """(reply text, replica) of each hop of a Responses API chain, each hop
    continuing the previous one by previous_response_id."""
    hops, previous = [], None
    for hop in range(HOPS):
        body = {"model": "kvserve", "input": turn_prompt(chain, hop), "max_output_tokens": MAX_TOKENS, "temperature": 0}
        if previous:
            body["previous_response_id"] = previous
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        c.request("POST", "/v1/responses", json.dumps(body), {"Content-Type": "application/json"})
        r = c.getresponse()
        reply = json.loads(r.read() or b"{}")
        if r.status != 200:
            check(False, f"chain {chain} hop {hop}: status {r.status}: {reply}")
            break
        previous = reply["id"]
        text = "".join(part.get("text", "") for item in reply["output"] for part in item.get("content", []))
        hops.append((text, r.getheader("X-Kvserve-Replica")))
    return hops


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
    p.add_argument("scenario", choices=["affinity", "failover", "rolling", "responses", "database"])
    p.add_argument("--kvserve", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--repo", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
    a = p.parse_args()
    root = tempfile.mkdtemp(prefix="kvserve-scale-")
    os.chmod(root, 0o755)
    pg = replicas = nginx = None
    try:
        pg = Postgres(root)
        replicas = [Replica(f"replica-{i + 1}", a.kvserve, a.model, pg.url, root,
                            settings=["kv_cache_bytes=134217728"]) for i in range(3)]
        nginx = Nginx(root, os.path.abspath(a.repo), replicas)
        print(f"up: PostgreSQL :{pg.port}, replicas {[r.port for r in replicas]}, nginx :{nginx.port}", flush=True)
        expected = None if a.scenario in ("affinity", "responses") else reference(replicas[0])
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
        elif a.scenario == "responses":
            expected = [response_chain(replicas[0].port, c) for c in range(CHAINS)]
            crossed = 0
            for c in range(CHAINS):
                hops = response_chain(nginx.port, c)
                check([text for text, _ in hops] == [text for text, _ in expected[c]],
                      f"chain {c}: replies {[t for t, _ in hops]} differ from one replica's {[t for t, _ in expected[c]]}")
                crossed += sum(1 for i in range(1, len(hops)) if hops[i][1] != hops[i - 1][1])
            print(f"hops continuing a response stored by another replica: {crossed}/{CHAINS * (HOPS - 1)}")
            check(crossed > 0, "no hop landed on another replica than the one before it")
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

            # Two clients that pause 0.25 s before each turn, so that the
            # workload (~20 s) outlasts three restarts (a restart and the
            # wait after it take ~4.5 s; a turn ~0.1 s).
            run.think = 0.25
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
        tear_down(replicas, nginx, pg)
        if not failures:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"logs kept in {root}")
    print("PASS" if not failures else f"{len(failures)} checks failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
