#!/usr/bin/env python3
"""Serving benchmark: multi-turn chat sessions against kvserve and llama-server.

For each concurrency N (default 1, 4, 16), N clients each hold one
conversation of --turns turns, sending each turn as soon as the previous reply
ends, greedy, --max-tokens tokens per reply (end-of-sequence ignored so both
servers generate the same amount). Measured per reply: time to first token
(request sent -> first token event), inter-token latencies, and overall
generated tokens per second across all clients.

kvserve keeps each conversation as a session (session_id, new messages only).
llama-server is sent the whole conversation each turn as ChatML text with
cache_prompt, one slot per client (-np N), the way a client of it works.

With --workload followup: C conversations (--conversations, default 8)
whose first message is a long text (~600 tokens), served one request at a
time, round-robin (turn 1 of every conversation, then turn 2 of every one,
...), so each follow-up finds the others' turns between it and its history.
Measured: follow-up TTFT. llama-server runs with one slot (-np 1) and its
prompt cache, as a single-user server would.

With --baseline BIN: the concurrent workload on two kvserve binaries (before
and after a change), both up at once, rounds alternating between them;
medians of --rounds rounds and of the per-round ratios.

Usage: scripts/bench-serve.py --kvserve .build/release/kvserve \
           --llama-server PATH/llama-server --model models/SmolLM2-135M-Instruct.Q4_1.gguf
       scripts/bench-serve.py --workload followup --llama-server PATH/llama-server
Only the Python standard library is used.
"""
import argparse, http.client, json, os, shutil, signal, socket, statistics, subprocess, sys, tempfile, threading, time

from benchlib import free_port, long_text, percentile, sse_events, wait_ready

TOPICS = ["the moon", "bread", "rivers", "chess", "volcanoes", "bees", "trains", "music",
          "glaciers", "owls", "bridges", "tea", "comets", "maps", "forests", "clocks"]
FOLLOW_UPS = ["Why is that?", "Give me one example.", "Say it in one sentence.", "What else?", "Tell me more."]
SYSTEM = "You are a helpful assistant who answers briefly."


class Client(threading.Thread):
    def __init__(self, server, port, index, turns, max_tokens, run_id, long_first=False):
        super().__init__()
        self.server, self.port, self.index, self.turns, self.max_tokens = server, port, index, turns, max_tokens
        self.session = f"{run_id}-{index}"
        self.long_first = long_first
        self.ttft, self.itl, self.tokens, self.error = [], [], 0, None
        self.history = f"<|im_start|>system\n{SYSTEM}<|im_end|>\n"

    def questions(self):
        topic = TOPICS[self.index % len(TOPICS)] if self.index < 100 else "the weather"
        if self.long_first:
            first = long_text(topic, self.index) + f" Now tell me about {topic}."
        else:
            first = f"Tell me about {topic}." + ("" if self.index < len(TOPICS) or self.index >= 100 else f" ({self.index})")
        return [first] + FOLLOW_UPS[: self.turns - 1]

    def run(self):
        try:
            for t in range(self.turns):
                self.turn(t)
        except Exception as e:  # reported, and the run counts as failed
            self.error = repr(e)

    def turn(self, t):
        question = self.questions()[t]
        history = self.history
        if self.server == "kvserve":
            messages = ([{"role": "system", "content": SYSTEM}] if t == 0 else []) + [{"role": "user", "content": question}]
            body = {"messages": messages, "session_id": self.session, "max_tokens": self.max_tokens,
                    "temperature": 0, "ignore_eos": True, "stream": True}
            path = "/v1/generate"
        else:
            history += f"<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n"
            body = {"prompt": history, "n_predict": self.max_tokens, "temperature": 0, "top_k": 1,
                    "ignore_eos": True, "stream": True, "cache_prompt": True}
            path = "/completion"
        # A connection per turn: llama-server closes its connection after a stream.
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        start = time.perf_counter()
        conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        if response.status != 200:
            raise RuntimeError(f"{self.server} answered {response.status}: {response.read()[:200]}")
        last, reply = None, ""
        for event, data in sse_events(response):
            now = time.perf_counter()
            text = data.get("text") if self.server == "kvserve" else data.get("content")
            is_token = (event == "token") if self.server == "kvserve" else (not data.get("stop") and text is not None)
            if is_token:
                if last is None:
                    self.ttft.append(now - start)
                else:
                    self.itl.append(now - last)
                last = now
                self.tokens += 1
                reply += text or ""
            if (self.server == "kvserve" and event == "done") or (self.server != "kvserve" and data.get("stop")):
                break
        response.read()
        conn.close()
        history += reply + "<|im_end|>\n"
        self.history = history


def run_level(server, port, n, turns, max_tokens, run_id, first_index=0):
    clients = [Client(server, port, i + first_index, turns, max_tokens, run_id) for i in range(n)]
    start = time.perf_counter()
    for c in clients:
        c.start()
    for c in clients:
        c.join()
    elapsed = time.perf_counter() - start
    errors = [c.error for c in clients if c.error]
    ttft = [x for c in clients for x in c.ttft]
    itl = [x for c in clients for x in c.itl]
    tokens = sum(c.tokens for c in clients)
    return {"server": server, "concurrency": n, "turns": turns, "errors": errors, "tokens": tokens,
            "seconds": elapsed, "tokens_per_s": tokens / elapsed,
            "ttft_p50_ms": percentile(ttft, 50) * 1000, "ttft_p99_ms": percentile(ttft, 99) * 1000,
            "followup_ttft_p50_ms": percentile([x for c in clients for x in c.ttft[1:]], 50) * 1000,
            "itl_p50_ms": percentile(itl, 50) * 1000, "itl_p99_ms": percentile(itl, 99) * 1000}


def run_followups(server, port, conversations, turns, max_tokens, run_id):
    """One request at a time, round-robin over the conversations."""
    clients = [Client(server, port, i, turns, max_tokens, run_id, long_first=True) for i in range(conversations)]
    start = time.perf_counter()
    errors = []
    for t in range(turns):
        for c in clients:
            if c.error:
                continue
            try:
                c.turn(t)
            except Exception as e:
                c.error = repr(e)
                errors.append(c.error)
    elapsed = time.perf_counter() - start
    first = [c.ttft[0] for c in clients if c.ttft]
    follow = [x for c in clients for x in c.ttft[1:]]
    tokens = sum(c.tokens for c in clients)
    return {"server": server, "conversations": conversations, "turns": turns, "errors": errors, "tokens": tokens,
            "seconds": elapsed, "first_ttft_p50_ms": percentile(first, 50) * 1000,
            "followup_ttft_p50_ms": percentile(follow, 50) * 1000, "followup_ttft_p99_ms": percentile(follow, 99) * 1000,
            "followups": len(follow)}


def start(command, env=None, log=None):
    out = open(log, "wb") if log else subprocess.DEVNULL
    return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT if log else subprocess.DEVNULL, env=env,
                            start_new_session=True)


def start_kvserve(args, port, extra=(), log=None, binary=None):
    """kvserve with a data directory of its own: sessions and disk-tier blocks
    of an earlier run must not carry over into this one. With `log`, its
    output goes there, at log level debug (a `ttft` line per turn)."""
    data = tempfile.mkdtemp(prefix="kvserve-bench-")
    debug = ("--set", "log_level=debug") if log else ()
    process = start([binary or args.kvserve, "serve", "--set", f"port={port}", "--set", f"model={args.model}",
                     "--set", f"threads={args.threads}", "--set", f"data_dir={data}", *extra, *debug]
                    + [x for kv in args.kvserve_set for x in ("--set", kv)], log=log)
    process.data_dir = data
    return process


STAGES = ["parse", "store_read", "template", "tokenize", "queue_wait", "prefill", "first_write"]


def stage_medians(log):
    """Median milliseconds per stage of the follow-up turns (each session's
    later turns) in kvserve's `ttft` debug lines, and of their sum but the prefill."""
    seen, rows = set(), []
    with open(log, errors="replace") as f:
        for line in f:
            if not line.rstrip().endswith(" ttft"):
                continue
            fields = dict(x.split("=", 1) for x in line.split() if "=" in x)
            session = fields.get("session", "-")
            if session == "-" or session not in seen:
                seen.add(session)
                continue
            rows.append({s: float(fields.get(f"{s}_ms", 0)) for s in STAGES})
    if not rows:
        return {}
    medians = {s: statistics.median(r[s] for r in rows) for s in STAGES}
    medians["not_prefill"] = statistics.median(sum(r[s] for s in STAGES if s != "prefill") for r in rows)
    return medians


def measured(server, process, port, label, warm_id, work):
    """Waits for the server, warms it with a request whose costs stay out of
    the figures, returns work(), and stops the server whatever happens."""
    try:
        wait_ready(port, "/health")
        run_level(server, port, 1, 1, 8, warm_id, first_index=100)
        print(f"bench: {label}", file=sys.stderr)
        return work()
    finally:
        stop(process)


def start_llama_server(args, port, slots, context):
    return start([args.llama_server, "-m", args.model, "--port", str(port), "-np", str(slots), "-c", str(context),
                  "-t", str(args.threads), "--no-webui"])


def stop(process):
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
    if getattr(process, "data_dir", None):
        shutil.rmtree(process.data_dir, ignore_errors=True)


def main():
    a = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    a.add_argument("--kvserve", default=".build/release/kvserve")
    a.add_argument("--llama-server", default=os.environ.get("LLAMA_SERVER"))
    a.add_argument("--model", default="models/SmolLM2-135M-Instruct.Q4_1.gguf")
    a.add_argument("--concurrency", default="1,4,16")
    a.add_argument("--turns", type=int, default=4)
    a.add_argument("--max-tokens", type=int, default=64)
    a.add_argument("--threads", type=int, default=2)
    a.add_argument("--kvserve-set", action="append", default=[], metavar="KEY=VALUE",
                   help="extra configuration for kvserve (repeatable), e.g. max_prefill_tokens_per_step=64")
    a.add_argument("--workload", choices=["concurrent", "followup"], default="concurrent")
    a.add_argument("--conversations", type=int, default=8, help="followup workload: conversations")
    a.add_argument("--stages", action="store_true", help="followup workload: kvserve's TTFT by stage (from its debug log)")
    a.add_argument("--baseline", metavar="BIN",
                   help="another kvserve binary, up at the same time: rounds alternate between the two (before/after)")
    a.add_argument("--rounds", type=int, default=6, help="with --baseline: rounds per concurrency")
    a.add_argument("--json", action="store_true")
    args = a.parse_args()
    if args.workload == "followup":
        return followup_main(args)
    if args.baseline:
        return paired_main(args)
    levels = [int(x) for x in args.concurrency.split(",")]
    results = []
    for n in levels:
        port = free_port()
        kv = start_kvserve(args, port, ("--set", f"max_batch_sequences={max(16, n)}"))
        results.append(measured("kvserve", kv, port, f"kvserve, {n} sessions", f"warm{n}",
                                lambda: run_level("kvserve", port, n, args.turns, args.max_tokens, f"run{n}")))
        if args.llama_server:
            port = free_port()
            ls = start_llama_server(args, port, n, 2048 * n)
            results.append(measured("llama-server", ls, port, f"llama-server -np {n}", f"warm{n}",
                                    lambda: run_level("llama-server", port, n, args.turns, args.max_tokens, f"run{n}")))
    if not report(args, results, f"{args.turns} turns per session, {args.max_tokens} tokens per reply, greedy, {args.threads} threads",
                  ["server", "sessions", "tokens/s", "TTFT p50", "TTFT p99", "follow-up TTFT p50", "ITL p50", "ITL p99", "errors"],
                  lambda r: [r["server"], str(r["concurrency"]), f"{r['tokens_per_s']:.1f}", f"{r['ttft_p50_ms']:.1f} ms",
                             f"{r['ttft_p99_ms']:.1f} ms", f"{r['followup_ttft_p50_ms']:.1f} ms", f"{r['itl_p50_ms']:.1f} ms",
                             f"{r['itl_p99_ms']:.1f} ms", str(len(r["errors"]))]):
        return
    for r in results:
        for e in r["errors"][:3]:
            print(f"error ({r['server']}, {r['concurrency']}): {e}")


def paired_main(args):
    """Two kvserve binaries started side by side (one idles, its workers
    parked, while the other serves); each round runs the workload on both,
    in alternating order, so that the machine's drift over minutes (10-25%
    here) falls on both alike. Reported: the medians of each side's rounds
    and of the per-round ratios."""
    levels = [int(x) for x in args.concurrency.split(",")]
    sides = []
    try:
        for label, binary in (("baseline", args.baseline), ("kvserve", args.kvserve)):
            port = free_port()
            sides.append((label, start_kvserve(args, port, ("--set", f"max_batch_sequences={max(16, *levels)}"), binary=binary), port))
        for label, _, port in sides:
            wait_ready(port, "/health")
            run_level("kvserve", port, 1, 1, 8, "warm", first_index=100)
        rows = []
        for n in levels:
            rounds = {label: [] for label, _, _ in sides}
            for r in range(args.rounds):
                for label, _, port in (sides if r % 2 == 0 else sides[::-1]):
                    print(f"bench: {label}, {n} sessions, round {r + 1}", file=sys.stderr)
                    rounds[label].append(run_level("kvserve", port, n, args.turns, args.max_tokens, f"r{r}n{n}"))
            base, new = rounds["baseline"], rounds["kvserve"]
            rows.append({"concurrency": n, "rounds": args.rounds,
                         "baseline_tokens_per_s": statistics.median(x["tokens_per_s"] for x in base),
                         "kvserve_tokens_per_s": statistics.median(x["tokens_per_s"] for x in new),
                         "ratio": statistics.median(b["tokens_per_s"] / a["tokens_per_s"] for a, b in zip(base, new)),
                         "baseline_itl_p50_ms": statistics.median(x["itl_p50_ms"] for x in base),
                         "kvserve_itl_p50_ms": statistics.median(x["itl_p50_ms"] for x in new),
                         "errors": sum(len(x["errors"]) for x in base + new)})
    finally:
        for _, process, _ in sides:
            stop(process)
    report(args, rows, f"baseline {args.baseline}, kvserve {args.kvserve}; {args.turns} turns per session, "
           f"{args.max_tokens} tokens per reply, greedy, {args.threads} threads; medians of {args.rounds} alternating rounds",
           ["streams", "baseline tokens/s", "kvserve tokens/s", "kvserve / baseline (median of rounds)", "baseline ITL p50",
            "kvserve ITL p50", "errors"],
           lambda r: [str(r["concurrency"]), f"{r['baseline_tokens_per_s']:.1f}", f"{r['kvserve_tokens_per_s']:.1f}",
                      f"{r['ratio']:.3f}", f"{r['baseline_itl_p50_ms']:.1f} ms", f"{r['kvserve_itl_p50_ms']:.1f} ms",
                      str(r["errors"])])


def report(args, rows, title, columns, cells):
    """The rows as JSON with --json (then False), else a title and a Markdown table."""
    if args.json:
        print(json.dumps(rows, indent=2))
        return False
    print(title)
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for r in rows:
        print("| " + " | ".join(cells(r)) + " |")
    return True


def followup_main(args):
    results = []
    port = free_port()
    log = tempfile.mktemp(prefix="kvserve-bench-log-") if args.stages else None
    kv = start_kvserve(args, port, log=log)
    results.append(measured("kvserve", kv, port, "kvserve, follow-ups", "warm",
                            lambda: run_followups("kvserve", port, args.conversations, args.turns, args.max_tokens, "followup")))
    if log:
        results[0]["stages_p50_ms"] = stage_medians(log)
        os.unlink(log)
    if args.llama_server:
        port = free_port()
        ls = start_llama_server(args, port, 1, 4096)
        results.append(measured("llama-server", ls, port, "llama-server -np 1, follow-ups", "warm",
                                lambda: run_followups("llama-server", port, args.conversations, args.turns, args.max_tokens,
                                                      "followup")))
    if not report(args, results, f"{args.conversations} conversations x {args.turns} turns, one request at a time, round-robin; "
                  f"{args.max_tokens} tokens per reply, greedy, {args.threads} threads",
                  ["server", "first-turn TTFT p50", "follow-up TTFT p50", "follow-up TTFT p99", "follow-ups", "errors"],
                  lambda r: [r["server"], f"{r['first_ttft_p50_ms']:.1f} ms", f"{r['followup_ttft_p50_ms']:.1f} ms",
                             f"{r['followup_ttft_p99_ms']:.1f} ms", str(r["followups"]), str(len(r["errors"]))]):
        return
    if results[0].get("stages_p50_ms"):
        print("kvserve follow-up TTFT by stage, p50 ms: " + ", ".join(f"{k} {v:.2f}" for k, v in results[0]["stages_p50_ms"].items()))
    if len(results) == 2:
        print(f"follow-up TTFT p50, kvserve / llama-server: {results[0]['followup_ttft_p50_ms'] / results[1]['followup_ttft_p50_ms']:.2f}x")
    for r in results:
        for e in r["errors"][:3]:
            print(f"error ({r['server']}): {e}")


if __name__ == "__main__":
    main()
