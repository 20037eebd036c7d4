#!/usr/bin/env python3
"""Follow-up latency: a Responses API continuation against a native session.

The bar: a previous_response_id follow-up reaches its first token within 1.2x
the time of the same follow-up through a native session.

Against one `kvserve serve`, conversations run one at a time (a follow-up's
TTFT is then its prefill alone), each turn through both arms back to back,
the first arm alternating so that drift hits both alike:
  native     POST /v1/generate, session_id; turn 1 sends [system, user], later
             turns [user]. TTFT: request sent -> first `token` event.
  responses  POST /v1/responses, input = the user message; turn 1 with
             instructions, later turns with previous_response_id.
             TTFT: request sent -> first response.output_text.delta.
Greedy, 32 tokens per reply. Reported for follow-ups (turn >= 2): TTFT p50,
p90, the p50 ratio and the tokens found cached. Each arm of each repeat has
its own API key, which salts the prefix cache: no arm or repeat finds blocks
another computed for the same text.

Usage: scripts/bench-followup.py [--conversations 8] [--turns 4] [--repeat 1] [--json]
Only the Python standard library is used.
"""
import argparse, http.client, json, os, secrets, signal, socket, statistics, subprocess, sys, tempfile, time

from benchlib import free_port, percentile, sse_events

TOPICS = ["the moon", "bread", "rivers", "chess", "volcanoes", "bees", "trains", "music",
          "glaciers", "owls", "bridges", "tea", "comets", "maps", "forests", "clocks"]
FOLLOW_UPS = ["Why is that?", "Give me one example.", "Say it in one sentence.", "What else?", "Tell me more."]
SYSTEM = "You are a helpful assistant who answers briefly."
MAX_TOKENS = 32
ARMS = ("native", "responses")


def start_server(binary, port, keys, log, timeout=120):
    """Starts `kvserve serve` in its own process group and waits until GET /health answers."""
    # A data directory of its own: no sessions or disk-tier blocks from earlier runs.
    process = subprocess.Popen([binary, "serve", "--set", f"port={port}", "--set", "kv_cache_bytes=268435456",
                                "--set", "api_keys=" + ",".join(keys), "--set", f"data_dir={tempfile.mkdtemp(prefix='kvserve-bench-')}"],
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    end = time.time() + timeout
    while process.poll() is None and time.time() < end:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/health")
            if c.getresponse().status == 200:
                return process
        except OSError:
            pass
        time.sleep(0.2)
    stop_server(process)
    log.seek(0)
    raise RuntimeError(f"kvserve did not answer on port {port} (exit status {process.returncode}): "
                       + log.read()[-2000:].decode(errors="replace"))


def stop_server(process):
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def stream(port, key, path, body, first_event, final_events):
    """POSTs a streaming request and reads its events. Returns the TTFT in ms (request
    sent -> first `first_event`) and the data of the event that ends the stream."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    start = time.perf_counter()
    conn.request("POST", path, body=json.dumps(body),
                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"})
    response = conn.getresponse()
    if response.status != 200:
        raise RuntimeError(f"{path} answered {response.status}: {response.read()[:300]!r}")
    ttft, final, seen = None, None, []
    for event, data in sse_events(response):
        if event == first_event and ttft is None:
            ttft = (time.perf_counter() - start) * 1000
        final = data if event in final_events else final
        seen.append(event)
    conn.close()
    if ttft is None or final is None:
        raise RuntimeError(f"{path}: no {first_event} or no {' / '.join(final_events)} among the events {seen}")
    return ttft, final


def native_turn(port, key, session, question, first):
    messages = ([{"role": "system", "content": SYSTEM}] if first else []) + [{"role": "user", "content": question}]
    body = {"messages": messages, "session_id": session, "max_tokens": MAX_TOKENS, "temperature": 0,
            "ignore_eos": True, "stream": True}
    ttft, done = stream(port, key, "/v1/generate", body, "token", ["done"])
    u = done["usage"]
    return {"ttft_ms": ttft, "cached_tokens": u["cached_tokens"], "prompt_tokens": u["prompt_tokens"],
            "output_tokens": u["completion_tokens"]}


def responses_turn(port, key, question, previous_id):
    body = {"input": question, "max_output_tokens": MAX_TOKENS, "temperature": 0, "stream": True}
    body.update({"previous_response_id": previous_id} if previous_id else {"instructions": SYSTEM})
    ttft, final = stream(port, key, "/v1/responses", body, "response.output_text.delta",
                         ["response.completed", "response.incomplete"])
    r = final["response"]
    u = r["usage"]
    return {"ttft_ms": ttft, "cached_tokens": u["input_tokens_details"]["cached_tokens"],
            "prompt_tokens": u["input_tokens"], "output_tokens": u["output_tokens"], "id": r["id"]}


def measure(port, keys, conversations, turns, run):
    """One measurement: each conversation in turn, each of its turns through both arms.
    Returns one sample per follow-up turn and arm."""
    samples = []
    for c in range(conversations):
        first = f"Tell me about {TOPICS[c % len(TOPICS)]}." + (f" ({c})" if c >= len(TOPICS) else "")
        questions = [first] + [FOLLOW_UPS[i % len(FOLLOW_UPS)] for i in range(turns - 1)]
        session, previous_id = f"followup-{run}-{c}", None
        for t, question in enumerate(questions):
            for arm in (ARMS if (c + t) % 2 == 0 else ARMS[::-1]):
                if arm == "native":
                    r = native_turn(port, keys["native"], session, question, t == 0)
                else:
                    r = responses_turn(port, keys["responses"], question, previous_id)
                    previous_id = r.pop("id")
                if t > 0:
                    samples.append({"run": run, "conversation": c, "turn": t + 1, "arm": arm, **r})
    return samples


def summarize(samples):
    out = {}
    for arm in ARMS:
        s = [x for x in samples if x["arm"] == arm]
        ttft, cached = [x["ttft_ms"] for x in s], [x["cached_tokens"] for x in s]
        out[arm] = {"follow_ups": len(s), "ttft_p50_ms": percentile(ttft, 50), "ttft_p90_ms": percentile(ttft, 90),
                    "cached_tokens_mean": statistics.mean(cached), "cached_tokens_min": min(cached),
                    "prompt_tokens_mean": statistics.mean(x["prompt_tokens"] for x in s)}
    out["ratio_p50"] = out["responses"]["ttft_p50_ms"] / out["native"]["ttft_p50_ms"]
    return out


def main():
    a = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    a.add_argument("--conversations", type=int, default=8)
    a.add_argument("--turns", type=int, default=4)
    a.add_argument("--port", type=int, default=0, help="default: a free port")
    a.add_argument("--kvserve", default=".build/release/kvserve", metavar="PATH")
    a.add_argument("--repeat", type=int, default=1, metavar="R", help="measure R times, each with fresh ids and keys")
    a.add_argument("--json", action="store_true")
    args = a.parse_args()
    if args.turns < 2 or args.conversations < 1 or args.repeat < 1:
        a.error("need --turns >= 2, --conversations >= 1 and --repeat >= 1")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that the server is stopped then too
    port = args.port or free_port()
    keys = [{arm: f"bench-{arm}-{secrets.token_hex(8)}" for arm in ARMS} for _ in range(args.repeat + 1)]
    runs, samples = [], []
    with tempfile.TemporaryFile() as log:
        server = start_server(args.kvserve, port, [k for pair in keys for k in pair.values()], log)
        try:
            native_turn(port, keys[0]["native"], "followup-warm", "Hello.", True)  # first-use costs out of the figures
            responses_turn(port, keys[0]["responses"], "Hello.", None)
            for run in range(1, args.repeat + 1):
                print(f"bench: run {run} of {args.repeat}", file=sys.stderr)
                s = measure(port, keys[run], args.conversations, args.turns, run)
                samples += s
                runs.append({"run": run, **summarize(s)})
        finally:
            stop_server(server)
    overall = summarize(samples)
    note = ("only the native arm sets ignore_eos (the Responses API has no such field), so a responses reply may "
            "end early at end-of-sequence and its history differ slightly: TTFT alone is compared")
    if args.json:
        print(json.dumps({"conversations": args.conversations, "turns": args.turns, "max_tokens": MAX_TOKENS,
                          "repeat": args.repeat, "runs": runs, "overall": overall, "bar": 1.2,
                          "meets_bar": overall["ratio_p50"] <= 1.2, "note": note, "samples": samples}, indent=2))
        return
    print(f"{args.conversations} conversations x {args.turns} turns one at a time, greedy, {MAX_TOKENS} tokens per reply; "
          f"follow-ups (turns 2-{args.turns}) only\n")
    print("| run | arm | follow-ups | TTFT p50 | TTFT p90 | cached tokens (mean / min) | usage prompt tokens (mean) | p50 ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for r in runs + ([{"run": "all", **overall}] if len(runs) > 1 else []):
        for arm in ARMS:
            x, ratio = r[arm], (f"{r['ratio_p50']:.2f}x" if arm == "responses" else "")
            print(f"| {r['run']} | {arm} | {x['follow_ups']} | {x['ttft_p50_ms']:.1f} ms | {x['ttft_p90_ms']:.1f} ms | "
                  f"{x['cached_tokens_mean']:.0f} / {x['cached_tokens_min']} | {x['prompt_tokens_mean']:.0f} | {ratio} |")
    verdict = "meets" if overall["ratio_p50"] <= 1.2 else "misses"
    print(f"\nresponses / native TTFT p50: {overall['ratio_p50']:.2f}x, {verdict} the bar (<= 1.2x).")
    print("usage prompt tokens: native counts the turn's new tokens, responses the whole input (history included).")
    print(f"note: {note}.")


if __name__ == "__main__":
    main()
