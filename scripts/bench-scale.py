#!/usr/bin/env python3
"""Scale-out benchmark: the same chat workload against one kvserve with its
SQLite session store, and through nginx (deploy/nginx/kvserve.conf) to 1, 2
and 3 replicas sharing a PostgreSQL store, all on this machine.

Workload: --conversations conversations (default 48) of --turns turns,
--clients at a time (default 16, one engine batch), each turn streamed from
/v1/generate with the conversation's X-Session-Id, greedy, --max-tokens
tokens per reply (end-of-sequence ignored). Measured: aggregate generated
tokens/s, and time to first token of the follow-up turns (p50, p90).
Both stores flush each turn's commit to disk (SQLite synchronous=FULL,
PostgreSQL fsync on), and a reply's `done` waits for its commit.

The replicas share this machine's cores: one replica gets --threads threads,
several get one each. So the figures show what the proxy and the shared
store cost, and how replicas contend for the same cores; they are not the
speed-up of replicas on machines of their own.

Usage: scripts/bench-scale.py [--kvserve .build/release/kvserve] [--model PATH]
Needs Debian's postgresql and nginx. Standard library only.
"""
import argparse, http.client, json, os, shutil, statistics, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import percentile, sse_events  # noqa: E402
from topology import Nginx, Postgres, Replica, tear_down  # noqa: E402

TOPICS = ["the moon", "bread", "rivers", "chess", "volcanoes", "bees", "trains", "music",
          "glaciers", "owls", "bridges", "tea", "comets", "maps", "forests", "clocks"]
FOLLOW_UPS = ["Why is that?", "Give me one example.", "Say it in one sentence.", "What else?"]


def turn(port, session, prompt, max_tokens):
    """(seconds to the first token, tokens, replica) of one streamed turn."""
    body = {"prompt": prompt, "max_tokens": max_tokens, "temperature": 0, "ignore_eos": True, "stream": True}
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    start = time.perf_counter()
    c.request("POST", "/v1/generate", json.dumps(body), {"Content-Type": "application/json", "X-Session-Id": session})
    r = c.getresponse()
    if r.status != 200:
        raise RuntimeError(f"status {r.status}: {r.read()[:200]}")
    first, tokens = None, 0
    for event, _ in sse_events(r):
        if event == "token":
            first = first if first is not None else time.perf_counter() - start
            tokens += 1
        elif event in ("done", "error"):
            if event == "error":
                raise RuntimeError("stream ended with an error event")
            break
    c.close()
    return first, tokens, r.getheader("X-Kvserve-Replica")


def workload(port, args, label):
    queue = list(range(args.conversations))
    lock = threading.Lock()
    followup_ttft, tokens, errors, replicas = [], [0], [], {}

    def client():
        while True:
            with lock:
                if not queue:
                    return
                conversation = queue.pop(0)
            session = f"{label}-{conversation}"
            try:
                for t in range(args.turns):
                    prompt = (f"Tell me about {TOPICS[conversation % len(TOPICS)]} ({conversation})." if t == 0
                              else FOLLOW_UPS[(t - 1) % len(FOLLOW_UPS)])
                    ttft, n, replica = turn(port, session, prompt, args.max_tokens)
                    with lock:
                        tokens[0] += n
                        if t > 0:
                            followup_ttft.append(ttft)
                        replicas.setdefault(conversation, set()).add(replica)
            except Exception as e:  # counted; a run with errors is reported as failed
                with lock:
                    errors.append(repr(e))

    threads = [threading.Thread(target=client) for _ in range(args.clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    return {"tokens_per_s": tokens[0] / elapsed, "followup_ttft_p50_ms": percentile(followup_ttft, 50) * 1000,
            "followup_ttft_p90_ms": percentile(followup_ttft, 90) * 1000, "followups": len(followup_ttft),
            "errors": errors, "moved": sum(len(r) > 1 for r in replicas.values())}


def run_topology(args, replicas_wanted, repo):
    """One measurement: 0 replicas means one kvserve, SQLite, no proxy."""
    root = tempfile.mkdtemp(prefix="kvserve-bench-scale-")
    os.chmod(root, 0o755)
    pg = nginx = None
    replicas = []
    try:
        if replicas_wanted == 0:
            replicas = [Replica("single", args.kvserve, args.model, None, root, threads=args.threads)]
            port = replicas[0].port
        else:
            pg = Postgres(root, durable=True)
            threads = args.threads if replicas_wanted == 1 else 1
            replicas = [Replica(f"replica-{i + 1}", args.kvserve, args.model, pg.url, root, threads=threads)
                        for i in range(replicas_wanted)]
            nginx = Nginx(root, repo, replicas)
            port = nginx.port
        turn(port, "warm-up", "Hello.", 4)
        result = workload(port, args, f"run{replicas_wanted}-{time.time_ns()}")
        if pg:
            sessions, tokens, row_bytes = pg.query(
                "SELECT count(*), sum(length(tokens)) / 4, sum(pg_column_size(s.*)) FROM kvserve_sessions s").split("|")
            result["store"] = {"sessions": int(sessions), "tokens": int(tokens), "row_bytes": int(row_bytes),
                               "table_bytes": int(pg.query("SELECT pg_total_relation_size('kvserve_sessions')"))}
        return result
    finally:
        tear_down(replicas, nginx, pg)
        shutil.rmtree(root, ignore_errors=True)


def main():
    a = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    a.add_argument("--kvserve", default=".build/release/kvserve")
    a.add_argument("--model", default="models/SmolLM2-135M-Instruct.Q4_1.gguf")
    a.add_argument("--conversations", type=int, default=48)
    a.add_argument("--clients", type=int, default=16)
    a.add_argument("--turns", type=int, default=3)
    a.add_argument("--max-tokens", type=int, default=32)
    a.add_argument("--threads", type=int, default=2)
    a.add_argument("--repeat", type=int, default=3, help="runs per topology, interleaved; medians reported")
    a.add_argument("--json", action="store_true")
    args = a.parse_args()
    args.kvserve, args.model = os.path.abspath(args.kvserve), os.path.abspath(args.model)
    repo = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

    topologies = [0, 1, 2, 3]
    runs = {n: [] for n in topologies}
    for r in range(args.repeat):
        for n in topologies:
            result = run_topology(args, n, repo)
            runs[n].append(result)
            print(f"bench: run {r + 1}, {n or 'single'} replica(s): {result}", file=sys.stderr, flush=True)

    def median(n, key):
        return statistics.median(x[key] for x in runs[n])

    names = {0: "kvserve, SQLite, no proxy", 1: "nginx + PostgreSQL, 1 replica", 2: "nginx + PostgreSQL, 2 replicas",
             3: "nginx + PostgreSQL, 3 replicas"}
    base_ttft, base_tps = median(0, "followup_ttft_p50_ms"), median(0, "tokens_per_s")
    rows = []
    for n in topologies:
        rows.append({"topology": names[n], "tokens_per_s": median(n, "tokens_per_s"),
                     "followup_ttft_p50_ms": median(n, "followup_ttft_p50_ms"),
                     "followup_ttft_p90_ms": median(n, "followup_ttft_p90_ms"),
                     "ttft_ratio": median(n, "followup_ttft_p50_ms") / base_ttft,
                     "throughput_ratio": median(n, "tokens_per_s") / base_tps,
                     "errors": sum(len(x["errors"]) for x in runs[n]), "moved": sum(x["moved"] for x in runs[n])})
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    store = runs[1][-1].get("store")
    print(f"{args.conversations} conversations x {args.turns} turns, {args.clients} at a time, {args.max_tokens} tokens "
          f"per reply, medians of {args.repeat}")
    print(f"{'topology':34} {'tok/s':>7} {'x':>5} {'follow-up TTFT p50':>19} {'x':>5} {'p90':>8} errors moved")
    for row in rows:
        print(f"{row['topology']:34} {row['tokens_per_s']:7.1f} {row['throughput_ratio']:5.2f} "
              f"{row['followup_ttft_p50_ms']:16.1f} ms {row['ttft_ratio']:5.2f} {row['followup_ttft_p90_ms']:5.0f} ms "
              f"{row['errors']:6} {row['moved']:5}")
    if store:
        print(f"PostgreSQL after one run: {store['sessions']} sessions, {store['tokens']} tokens, "
              f"{store['row_bytes'] / store['sessions']:.0f} bytes a session row "
              f"({store['row_bytes'] / store['tokens']:.1f} a token), table with indexes {store['table_bytes']} bytes")


if __name__ == "__main__":
    main()
