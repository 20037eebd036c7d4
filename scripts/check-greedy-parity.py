#!/usr/bin/env python3
"""Greedy parity with llama.cpp on prompts the model tests never saw.

Starts llama.cpp's llama-server (the flags and /completion request of
scripts/fixtures/make_greedy_fixtures.py: one slot, CPU, prompt cache off,
greedy, n_probs 5, return_tokens) and `kvserve serve` on the same GGUF, and
for each prompt:

  - gets the prompt's ids from llama-server's /tokenize (add_special: BOS for
    Gemma 3, nothing for SmolLM2, as the fixtures; parse_special off, as
    kvserve's native API never parses control tokens in a prompt);
  - asks llama-server for 32 greedy tokens of those ids and kvserve's
    POST /v1/generate for 32 greedy tokens of the text ("ignore_eos": true,
    streamed); the prompt token counts must agree (usage.prompt_tokens);
  - compares the two sequences up to llama.cpp's first near-tie: the first
    step whose top-1 minus top-2 log-probability (a logit difference, from
    n_probs) is below --near-tie (0.25). They must agree on every step before
    it; from it on a divergence is allowed and only reported.

End of generation. kvserve's ignore_eos samples the end-of-generation token
like any other and keeps it in the context; llama-server's would ban it
(logit bias -inf) and so continue differently. So llama-server is asked
without ignore_eos, and when it stops on an end-of-generation token, asked
again for the rest with that token appended to the prompt: the same sequence
kvserve computes, 32 tokens on both sides.

kvserve's own log-probabilities come from POST /v1/completions with the
prompt ids and "logprobs": 5 (the native API has none). They give, over the
steps where the sequences agree, the largest difference between kvserve's and
llama.cpp's log-probability of the shared token (max|dlp|), and at a
divergence kvserve's margin: a near-tie on both sides points to rounding, a
large margin on either to a bug.

Prints per prompt: prompt tokens (llama.cpp/kvserve where they differ), the
first near-tie step and its margin, how many tokens agree before it, the
first divergence, max|dlp|, PASS or FAIL; each divergence's top-3 on both
sides; then a summary. Exit status 1 if any prompt disagrees before its first near-tie (or
in its prompt token count).

Usage: scripts/check-greedy-parity.py [--model models/gemma-3-270m-q4_k_m.gguf]
           [--llama-server PATH] [--kvserve .build/release/kvserve]
           [--prompts FILE.json] [--json]
--prompts takes a JSON list of strings or of {"name": ..., "text": ...}.
Only the Python standard library is used.
"""
import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.dont_write_bytecode = True
from benchlib import free_port, sse_events  # noqa: E402  (beside this file)

REPO = Path(__file__).resolve().parents[1]
N_PREDICT = 32
NEAR_TIE = 0.25

# make_greedy_fixtures.py's SERVER_FLAGS and REQUEST (without "prompt").
LLAMA_FLAGS = ["-t", "2", "-c", "4096", "-np", "1", "-ngl", "0", "-fa", "off",
               "--no-cache-prompt", "--cache-ram", "0", "--no-webui",
               "--temp", "0", "--top-k", "1", "--samplers", "top_k;temperature",
               "--repeat-penalty", "1", "--seed", "0"]
LLAMA_REQUEST = {
    "samplers": ["top_k", "temperature"], "temperature": 0.0, "dynatemp_range": 0.0, "top_k": 1,
    "top_p": 1.0, "min_p": 0.0, "typical_p": 1.0, "top_n_sigma": -1.0, "xtc_probability": 0.0,
    "repeat_penalty": 1.0, "repeat_last_n": 0, "presence_penalty": 0.0, "frequency_penalty": 0.0,
    "dry_multiplier": 0.0, "mirostat": 0, "seed": 0, "ignore_eos": False, "stop": [], "n_indent": 0,
    "cache_prompt": False, "return_tokens": True, "n_probs": 5, "post_sampling_probs": False,
    "stream": False,
}


def long_inventory():
    """A warehouse log of ~900 Gemma tokens, then a question about its start."""
    colours = ["red", "green", "blue", "amber", "violet", "grey", "white"]
    things = ["bolts", "hinges", "brackets", "washers", "springs", "valves", "gaskets", "pulleys"]
    lines = [f"Crate {n}: {(n * 37) % 90 + 10} {colours[n % 7]} {things[n % 8]}, shelf {chr(65 + n % 6)}{n % 9 + 1}, "
             f"checked by {['Ana', 'Ben', 'Chen', 'Dara', 'Eli'][n % 5]} on day {(n * 11) % 28 + 1}."
             for n in range(1, 41)]
    return ("Warehouse inventory log\n\n" + "\n".join(lines) +
            "\n\nSummary: the first crate in the log, Crate 1, holds")


def long_code():
    """A Python module of ~700 Gemma tokens, ending inside a new function."""
    funcs = []
    for name, op, sym in [("add", "a + b", "+"), ("subtract", "a - b", "-"), ("multiply", "a * b", "*"),
                          ("divide", "a / b", "/"), ("power", "a ** b", "**"), ("modulo", "a % b", "%"),
                          ("floor_divide", "a // b", "//"), ("maximum", "max(a, b)", "max"),
                          ("minimum", "min(a, b)", "min"), ("average", "(a + b) / 2", "mean")]:
        funcs.append(f"def {name}(a, b):\n    \"\"\"Return {op} ({sym}) for two numbers.\"\"\"\n"
                     f"    if not isinstance(a, (int, float)) or not isinstance(b, (int, float)):\n"
                     f"        raise TypeError(\"{name} expects numbers\")\n    return {op}\n")
    return ("\"\"\"Small arithmetic helpers.\"\"\"\n\n\n" + "\n\n".join(funcs) +
            "\n\nOPERATIONS = {\n    \"add\": add,\n    \"subtract\": subtract,\n")


PROMPTS = [
    ("prose-lighthouse", "The old lighthouse keeper climbed the stairs every evening, and on the night the storm "
                         "arrived he"),
    ("prose-market", "The market opened before sunrise. Fishermen carried baskets of silver sardines, and the "
                     "baker on the corner"),
    ("question-sky", "Question: Why is the sky blue?\nAnswer:"),
    ("question-boiling", "Q: At what temperature does water boil at sea level, in degrees Celsius?\nA:"),
    ("code-is-prime", "def is_prime(n):\n    \"\"\"Return True if n is a prime number.\"\"\"\n"),
    ("code-js-reverse", "function reverseString(str) {\n"),
    ("code-sql", "-- Find the ten most recent orders of each customer\nSELECT"),
    ("list-pancakes", "Ingredients for pancakes:\n- 2 cups of flour\n- 2 eggs\n-"),
    ("list-sleep-tips", "Five tips for better sleep:\n1."),
    ("translate-french", "English: Good morning, how are you today?\nFrench:"),
    ("translate-spanish", "Translate into Spanish: The cat is sleeping on the sofa.\nSpanish:"),
    ("numbers-primes", "The first ten prime numbers are 2, 3, 5, 7,"),
    ("numbers-sums", "12 + 7 = 19\n23 + 15 = 38\n41 + 26 ="),
    ("table-capitals", "| Country | Capital |\n|---|---|\n| Germany | Berlin |\n| Italy |"),
    ("letter", "Dear Professor Smith,\n\nI am writing to ask whether"),
    ("long-inventory", long_inventory()),
    ("long-code", long_code()),
]


def request(port, method, path, body=None, timeout=600):
    """Returns the open response (the caller reads it) and its connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    conn.request(method, path, None if body is None else json.dumps(body), {"Content-Type": "application/json"})
    return conn.getresponse()


def post_json(port, path, body):
    response = request(port, "POST", path, body)
    data = response.read()
    if response.status != 200:
        raise RuntimeError(f"{path}: HTTP {response.status}: {data[:500]!r}")
    return json.loads(data)


class Process:
    """A server child process that answers GET /health with 200 when ready."""

    def __init__(self, name, command, port, log):
        self.name, self.port, self.log = name, port, log
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        deadline = time.monotonic() + 300
        while True:
            if self.process.poll() is not None:
                self.fail(f"exited with code {self.process.returncode} while starting")
            try:
                if request(port, "GET", "/health", timeout=5).status == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.fail("did not become healthy within 300 s")
            time.sleep(0.5)

    def fail(self, message):
        self.stop()
        self.log.seek(0)
        raise SystemExit(f"{self.name} {message}\n--- log (tail) ---\n" + self.log.read()[-3000:].decode(errors="replace"))

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def llama_greedy(port, prompt_ids):
    """llama.cpp's 32 greedy ids and, per step, its top-5 [(id, text, logprob)]; an
    end-of-generation token stays in the context and generation goes on."""
    ids, tops = [], []
    while len(ids) < N_PREDICT:
        r = post_json(port, "/completion", {"prompt": prompt_ids + ids, **LLAMA_REQUEST,
                                            "n_predict": N_PREDICT - len(ids)})
        if r["timings"].get("cache_n", 0) != 0:
            raise RuntimeError("llama-server reused its prompt cache")
        if len(r["tokens"]) != len(r["completion_probabilities"]) or not r["tokens"]:
            raise RuntimeError(f"llama-server: {len(r['tokens'])} ids, {len(r['completion_probabilities'])} probs")
        for tid, p in zip(r["tokens"], r["completion_probabilities"]):
            top = [(c["id"], c["token"], c["logprob"]) for c in p["top_logprobs"]]
            if p["id"] != tid or top[0][0] != tid:
                raise RuntimeError(f"llama-server sampled {tid} but its top candidate is {top[0][0]} (not greedy?)")
            ids.append(tid)
            tops.append(top)
        if r["stop_type"] not in ("eos", "limit"):
            raise RuntimeError(f"llama-server stopped on {r['stop_type']!r}")
    return ids, tops


def kvserve_greedy(port, text):
    """kvserve's 32 greedy ids of the text (native API, streamed) and its prompt token count."""
    response = request(port, "POST", "/v1/generate", {"prompt": text, "max_tokens": N_PREDICT, "temperature": 0,
                                                      "ignore_eos": True, "stream": True})
    if response.status != 200:
        raise RuntimeError(f"/v1/generate: HTTP {response.status}: {response.read()[:500]!r}")
    ids, done = [], None
    for event, data in sse_events(response):
        if event == "token":
            if data["index"] != len(ids):
                raise RuntimeError(f"kvserve token index {data['index']} after {len(ids)} tokens")
            ids.append(data["id"])
        elif event == "done":
            done = data
        elif event == "error":
            raise RuntimeError(f"kvserve: {data}")
    if done is None or len(ids) != N_PREDICT:
        raise RuntimeError(f"kvserve gave {len(ids)} tokens, done event {done}")
    return ids, done["usage"]["prompt_tokens"]


def kvserve_logprobs(port, prompt_ids):
    """kvserve's greedy continuation of the ids with its logprobs (POST /v1/completions,
    "logprobs": 5): per step the token's text, its logprob and the top 5 as [(text, logprob)]."""
    r = post_json(port, "/v1/completions", {"prompt": prompt_ids, "max_tokens": N_PREDICT, "temperature": 0,
                                            "ignore_eos": True, "logprobs": 5})
    lp = r["choices"][0]["logprobs"]
    tops = [sorted(t.items(), key=lambda kv: -kv[1]) for t in lp["top_logprobs"]]
    return list(zip(lp["tokens"], lp["token_logprobs"], tops))


def check(name, text, llama_port, kv_port, near_tie):
    prompt_ids = post_json(llama_port, "/tokenize", {"content": text, "add_special": True,
                                                     "parse_special": False})["tokens"]
    l_ids, tops = llama_greedy(llama_port, prompt_ids)
    k_ids, k_prompt_tokens = kvserve_greedy(kv_port, text)
    k_steps = kvserve_logprobs(kv_port, prompt_ids)
    margins = [t[0][2] - t[1][2] for t in tops]
    tie = next((i for i, m in enumerate(margins) if m < near_tie), None)
    diverge = next((i for i, (a, b) in enumerate(zip(l_ids, k_ids)) if a != b), None)
    same = N_PREDICT if diverge is None else diverge
    limit = N_PREDICT if tie is None else tie
    agree = min(same, limit)
    ok = k_prompt_tokens == len(prompt_ids) and agree == limit
    # How far kvserve's log-probability of the shared greedy token is from llama.cpp's.
    delta = max((abs(k_steps[i][1] - tops[i][0][2]) for i in range(same)), default=None)
    row = {"name": name, "prompt_tokens": len(prompt_ids), "kvserve_prompt_tokens": k_prompt_tokens,
           "near_tie_step": tie, "near_tie_margin": None if tie is None else margins[tie],
           "min_margin": min(margins), "agree_before_tie": agree, "diverge_step": diverge,
           "max_logprob_delta": delta, "pass": ok, "prompt_ids": prompt_ids, "llama_ids": l_ids, "kvserve_ids": k_ids,
           "llama_logprobs": [t[0][2] for t in tops], "llama_margins": margins,
           "kvserve_logprobs": [lp for _, lp, _ in k_steps],
           "kvserve_margins": [t[0][1] - t[1][1] if len(t) > 1 else None for _, _, t in k_steps]}
    if diverge is not None:
        d = diverge
        k_token, _, k_top = k_steps[d]
        row["divergence"] = {
            "llama_top": [(t, lp) for _, t, lp in tops[d]], "llama_margin": margins[d],
            "llama_logprob_of_kvserve_token": next((lp for i, _, lp in tops[d] if i == k_ids[d]), None),
            "kvserve_token": k_token, "kvserve_top": k_top,
            "kvserve_margin": k_top[0][1] - k_top[1][1] if len(k_top) > 1 else None,
        }
    return row


def fmt(x, spec=".3f"):
    return "-" if x is None else format(x, spec)


def print_table(model, rows, near_tie):
    print(f"model {model}; near-tie: llama.cpp top-1 - top-2 logprob < {near_tie}; {N_PREDICT} greedy tokens")
    print(f"{'prompt':20} {'tokens':>6} {'near-tie step':>13} {'margin':>7} {'agree':>5} {'diverge':>7} "
          f"{'max|dlp|':>8}  result")
    for r in rows:
        tokens = str(r["prompt_tokens"]) if r["prompt_tokens"] == r["kvserve_prompt_tokens"] else \
            f"{r['prompt_tokens']}/{r['kvserve_prompt_tokens']}"
        print(f"{r['name']:20} {tokens:>6} {fmt(r['near_tie_step'], 'd'):>13} {fmt(r['near_tie_margin']):>7} "
              f"{r['agree_before_tie']:>5} {fmt(r['diverge_step'], 'd'):>7} {fmt(r['max_logprob_delta']):>8}  "
              f"{'PASS' if r['pass'] else 'FAIL'}")
    for r in rows:
        if "divergence" in r:
            d = r["divergence"]
            top = lambda pairs: ", ".join(f"{t!r} {lp:.3f}" for t, lp in pairs[:3])
            print(f"  {r['name']} step {r['diverge_step']}: llama.cpp margin {d['llama_margin']:.3f} "
                  f"({top(d['llama_top'])}); kvserve margin {fmt(d['kvserve_margin'])} ({top(d['kvserve_top'])})")
    passed = sum(r["pass"] for r in rows)
    ties = sum(r["near_tie_step"] is not None for r in rows)
    print(f"summary: {passed}/{len(rows)} PASS; {ties} with a near-tie within {N_PREDICT} steps; "
          f"{sum(r['agree_before_tie'] for r in rows)} tokens agree before near-ties; "
          f"{sum(r['diverge_step'] is None for r in rows)} identical for all {N_PREDICT} tokens; largest "
          f"|logprob difference| of a shared token {max(r['max_logprob_delta'] or 0 for r in rows):.3f}")


def load_prompts(path):
    items = json.loads(Path(path).read_text())
    return [(f"prompt-{i}", p) if isinstance(p, str) else (p["name"], p["text"]) for i, p in enumerate(items)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=str(REPO / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--llama-server", default=os.environ.get("LLAMA_SERVER", "llama-server"))
    ap.add_argument("--kvserve", default=str(REPO / ".build" / "release" / "kvserve"))
    ap.add_argument("--prompts", help="JSON file: a list of strings or of {name, text} (default: the built-in set)")
    ap.add_argument("--near-tie", type=float, default=NEAR_TIE, help="margin below which a step is a near-tie")
    ap.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    a = ap.parse_args()
    prompts = load_prompts(a.prompts) if a.prompts else PROMPTS

    with tempfile.TemporaryFile() as llama_log, tempfile.TemporaryFile() as kv_log, \
            tempfile.TemporaryDirectory(prefix="kvserve-parity-") as data_dir:
        servers = []
        try:
            port = free_port()
            servers.append(Process("llama-server", [a.llama_server, "-m", a.model, "--host", "127.0.0.1", "--port",
                                                    str(port), *LLAMA_FLAGS], port, llama_log))
            port = free_port()
            servers.append(Process("kvserve", [a.kvserve, "serve", "--config", str(REPO / "config" / "kvserve.json"),
                                               "--set", f"model={a.model}", "--set", f"port={port}",
                                               "--set", f"data_dir={data_dir}"], port, kv_log))
            rows = []
            for name, text in prompts:
                rows.append(check(name, text, servers[0].port, servers[1].port, a.near_tie))
                if not a.json:
                    r = rows[-1]
                    print(f"... {name}: {'PASS' if r['pass'] else 'FAIL'}", file=sys.stderr, flush=True)
        finally:
            for s in servers:
                s.stop()
    if a.json:
        print(json.dumps({"model": a.model, "near_tie": a.near_tie, "n_predict": N_PREDICT, "prompts": rows}, indent=1))
    else:
        print_table(a.model, rows, a.near_tie)
    return 0 if all(r["pass"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
