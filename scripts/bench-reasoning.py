#!/usr/bin/env python3
"""Follow-ups of a reasoning model's conversations: kvserve against llama-server.

A reasoning model's template drops earlier replies' reasoning when it
renders a conversation again, so a follow-up's prompt differs from what
the server computed for the turn before from the first dropped block on.
kvserve renders each finished turn as its next request will and prefills
the difference while idle; llama-server's prompt cache reuses the longest
common prefix of its slot and recomputes the rest.

Both servers load the same GGUF with the same template file (default:
Qwen3's from llama.cpp's set with enable_thinking false, whose generation
prompt writes an empty think block that the next render drops before the
reply it kept) and serve the same conversations through
/v1/chat/completions, streamed, greedy (with --thinking on and a
--reasoning-budget: kvserve's max_reasoning_tokens, llama-server's
--reasoning-budget):
each conversation runs its turns one after another, resending the whole
conversation with each reply's `content` (its reasoning dropped, as clients
send it back), a pause of --think seconds between turns (a user reading the
reply). llama-server: --jinja --chat-template-file T --reasoning-format
deepseek, one slot, the same thread count. A third arm is kvserve with the
idle prefill off (KVSERVE_TEST_NO_FOLLOWUP_PREFILL=1), which computes what
llama-server does. Conversations run one at a time.

Per follow-up (turn >= 2): prompt tokens, tokens computed (prompt minus
cached: kvserve's usage.prompt_tokens_details.cached_tokens, llama-server's
timings.cache_n) and the time to first streamed delta (reasoning or
content). Reported: the share of follow-up prompt tokens computed, and TTFT
p50 for each server, with the ratios.

Usage: scripts/bench-reasoning.py --llama-server PATH [--kvserve .build/release/kvserve]
       [--model models/SmolLM2-135M-Instruct.Q4_1.gguf] [--template T] [--conversations 4]
       [--turns 5] [--max-tokens 64] [--thinking off|on] [--reasoning-budget -1] [--think 1.0] [--threads 2] [--json]
"""
import argparse, http.client, json, os, statistics, subprocess, sys, tempfile, time

from benchlib import free_port, percentile, wait_ready

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEMPLATE = os.path.join(ROOT, "Tests/ModelTests/Fixtures/chat/jinja/Qwen-Qwen3-0.6B.jinja")
QUESTIONS = [
    ["What is the capital of France?", "And of Italy?", "Name a river there.", "How long is it?", "Thanks, bye."],
    ["Give me a word that rhymes with cat.", "Another one?", "Use both in a sentence.", "Shorter, please.", "Why?"],
    ["What is 2 + 2?", "And 3 + 5?", "Which is larger?", "By how much?", "Explain."],
    ["Name a colour.", "Name a fruit of that colour.", "Is it sweet?", "Where does it grow?", "When?"],
    ["Tell me about owls.", "Where do they live?", "What do they eat?", "Are they loud?", "Thanks."],
    ["What is a comet?", "How big are they?", "Name one.", "When was it seen?", "Goodbye."],
]
SYSTEM = "You are a helpful assistant."


def chat(port, messages, max_tokens, kwargs, budget=None):
    """One streamed chat completion: (content, ttft seconds, prompt tokens, cached tokens)."""
    body = {"messages": messages, "max_tokens": max_tokens, "temperature": 0, "stream": True,
            "stream_options": {"include_usage": True}, "chat_template_kwargs": kwargs, "cache_prompt": True}
    if budget is not None and budget >= 0:
        body["max_reasoning_tokens"] = budget  # kvserve's; llama-server has it as --reasoning-budget
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    start = time.perf_counter()
    c.request("POST", "/v1/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
    r = c.getresponse()
    if r.status != 200:
        raise RuntimeError(f"port {port}: {r.status} {r.read()[:300]}")
    content, ttft, usage, timings = "", None, None, None
    for line in r:
        line = line.decode().strip()
        if not line.startswith("data:") or line[5:].strip() == "[DONE]":
            continue
        data = json.loads(line[5:])
        usage = data.get("usage") or usage
        timings = data.get("timings") or timings
        for choice in data.get("choices", []):
            delta = choice.get("delta", {})
            if ttft is None and (delta.get("content") or delta.get("reasoning_content")):
                ttft = time.perf_counter() - start
            content += delta.get("content") or ""
    c.close()
    prompt = usage["prompt_tokens"]
    if timings is not None:  # llama-server: what it took from its cache, beside what it processed
        cached = timings.get("cache_n", prompt - timings.get("prompt_n", prompt))
    else:
        cached = usage["prompt_tokens_details"]["cached_tokens"]
    return content, ttft, prompt, cached


def run(port, args):
    turns = []
    for questions in QUESTIONS[:args.conversations]:
        messages = [{"role": "system", "content": SYSTEM}]
        for t, question in enumerate(questions[:args.turns]):
            messages.append({"role": "user", "content": question})
            content, ttft, prompt, cached = chat(port, messages, args.max_tokens, {"enable_thinking": args.thinking == "on"}, args.reasoning_budget)
            turns.append({"turn": t, "prompt": prompt, "cached": cached, "ttft": ttft})
            messages.append({"role": "assistant", "content": content})
            time.sleep(args.think)
    return turns


def summary(turns):
    follow = [t for t in turns if t["turn"] > 0]
    prompt = sum(t["prompt"] for t in follow)
    computed = sum(t["prompt"] - t["cached"] for t in follow)
    return {"follow_ups": len(follow), "prompt_tokens": prompt, "computed_tokens": computed,
            "computed_share": computed / prompt, "ttft_p50_ms": 1000 * percentile([t["ttft"] for t in follow if t["ttft"]], 50),
            "ttft_p90_ms": 1000 * percentile([t["ttft"] for t in follow if t["ttft"]], 90),
            "computed_per_follow_up": statistics.mean(t["prompt"] - t["cached"] for t in follow)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kvserve", default=os.path.join(ROOT, ".build/release/kvserve"))
    ap.add_argument("--llama-server", required=True)
    ap.add_argument("--model", default=os.path.join(ROOT, "models/SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--template", default=TEMPLATE)
    ap.add_argument("--conversations", type=int, default=4)
    ap.add_argument("--turns", type=int, default=5)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--thinking", choices=["on", "off"], default="off")
    ap.add_argument("--reasoning-budget", type=int, default=-1)
    ap.add_argument("--think", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    results = {}
    log = tempfile.TemporaryFile()
    for name in ("kvserve", "kvserve, no idle prefill", "llama-server"):
        port = free_port()
        env = dict(os.environ, KVSERVE_TEST_NO_FOLLOWUP_PREFILL="1" if "no idle" in name else "0")
        if name.startswith("kvserve"):
            command = [args.kvserve, "serve", "--model", args.model, "--set", f"port={port}", "--set", f"threads={args.threads}",
                       "--set", f"chat_template={args.template}", "--set", "kv_disk_bytes=0", "--set", "session_store=memory",
                       "--set", f"data_dir={tempfile.mkdtemp(prefix='kvserve-bench-')}"]
        else:
            command = [args.llama_server, "-m", args.model, "--port", str(port), "-t", str(args.threads), "-np", "1", "-c", "8192",
                       "--jinja", "--chat-template-file", args.template, "--reasoning-format", "deepseek",
                       "--reasoning-budget", str(args.reasoning_budget)]
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)
        try:
            wait_ready(port, process=process)
            chat(port, [{"role": "user", "content": "Warm up."}], 4, {"enable_thinking": args.thinking == "on"})
            results[name] = {"turns": run(port, args)}
            results[name].update(summary(results[name]["turns"]))
        finally:
            process.terminate()
            process.wait()

    k, l = results["kvserve"], results["llama-server"]
    if args.json:
        print(json.dumps(results, indent=1))
        return
    print(f"{args.conversations} conversations x {args.turns} turns, template {os.path.basename(args.template)}, "
          f"thinking {args.thinking}, reasoning budget {args.reasoning_budget}, up to {args.max_tokens} tokens per reply, {args.threads} threads")
    print("| server | follow-ups | follow-up prompt tokens | computed | share computed | computed per follow-up | TTFT p50 ms | TTFT p90 ms |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, r in results.items():
        print(f"| {name} | {r['follow_ups']} | {r['prompt_tokens']} | {r['computed_tokens']} | {100 * r['computed_share']:.1f}% | "
              f"{r['computed_per_follow_up']:.1f} | {r['ttft_p50_ms']:.1f} | {r['ttft_p90_ms']:.1f} |")
    print(f"kvserve computes {k['computed_share'] / l['computed_share']:.2f}x llama-server's share of each follow-up's prompt; "
          f"follow-up TTFT p50 {k['ttft_p50_ms'] / l['ttft_p50_ms']:.2f}x")


if __name__ == "__main__":
    sys.exit(main())
