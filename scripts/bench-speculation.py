#!/usr/bin/env python3
"""Prompt-lookup speculation: kvserve against llama-server's n-gram modes.

Both servers load the same GGUF and serve the same prompts greedily through
/v1/chat/completions, streamed. Each prompt set is run with speculation off
and on: kvserve `speculation=off|ngram`; llama-server `--spec-type none`,
`ngram-simple`, `ngram-map-k` and `ngram-mod` (their defaults otherwise).
Input-grounded prompts (a code rename, a spelling fix, a quotation, a list
to JSON) reuse their input; prose prompts do not.

Decode rate is measured at the client the same way for every server, from
the streamed deltas' arrival and the usage's completion_tokens: one stream,
(tokens - 1) / (last delta - first delta); 16 streams, the tokens of all
replies / the wall time from the first delta of any to the last. Each arm also reports whether each greedy reply is the same text as
the server's own run with speculation off.

Usage: scripts/bench-speculation.py [--llama-server PATH] [--kvserve .build/release/kvserve]
       [--model models/SmolLM2-135M-Instruct.Q4_1.gguf] [--max-tokens 256] [--streams 1,16]
       [--threads 2] [--rounds 2] [--json]
"""
import argparse, http.client, json, os, statistics, subprocess, sys, tempfile, threading, time

from benchlib import free_port, wait_ready

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CODE = '''def summarize(records):
    total = 0
    count = 0
    largest = None
    for record in records:
        amount = record["amount"]
        total = total + amount
        count = count + 1
        if largest is None or amount > largest:
            largest = amount
    average = total / count if count else 0
    return {"total": total, "count": count, "largest": largest, "average": average}
'''
TYPOS = ("The comittee met on Tuesday to discus the new budjet. Most members agred that the "
         "libary needs more funding, becuase the number of vistors has doubled since last yaer. "
         "The tresurer said the town can aford a small increse if the park project is delayed "
         "untill next spring. A final decison will be made at the next meeting.")
PASSAGE = ("Rivers carry water from the mountains to the sea. Along the way they shape valleys, "
           "feed farms and cities, and give homes to fish and birds. In spring the snow melts and "
           "the rivers rise; in late summer they run low and slow. People have built towns beside "
           "rivers for thousands of years, because a river brings water, food and a road to the rest "
           "of the world.")
PEOPLE = ("Alice is 30 and lives in Paris. Bob is 25 and lives in Rome. Carol is 41 and lives in Oslo. "
          "Dan is 35 and lives in Lima. Eve is 28 and lives in Cairo. Frank is 52 and lives in Quito.")

GROUNDED = {
    "code rewrite": "Here is a Python function:\n\n" + CODE + "\nRewrite it with the variable total renamed to running_sum.",
    "spelling fix": "Rewrite this text with the spelling corrected:\n\n" + TYPOS,
    "quotation": "Repeat this paragraph word for word:\n\n" + PASSAGE,
    "list to JSON": "Write a JSON array with one object per person, with keys name, age and city:\n\n" + PEOPLE,
}
PROSE = {
    "story": "Write a short story about a lighthouse keeper who finds a message in a bottle.",
    "explanation": "Explain why the sky is blue to a ten year old.",
}


def chat(port, prompt, max_tokens):
    """One streamed greedy chat completion: (text, completion tokens, first and last delta's arrival)."""
    body = {"messages": [{"role": "user", "content": prompt}], "max_tokens": max_tokens, "temperature": 0,
            "stream": True, "stream_options": {"include_usage": True}, "cache_prompt": False}
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    c.request("POST", "/v1/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
    r = c.getresponse()
    if r.status != 200:
        raise RuntimeError(f"HTTP {r.status}: {r.read()[:300]!r}")
    text, times, tokens = [], [], 0
    while True:
        line = r.readline()
        if not line:
            break
        line = line.decode().strip()
        if not line.startswith("data:") or line[5:].strip() == "[DONE]":
            continue
        data = json.loads(line[5:])
        tokens = (data.get("usage") or {}).get("completion_tokens", tokens)
        for choice in data.get("choices", []):
            piece = (choice.get("delta") or {}).get("content")
            if piece:
                text.append(piece)
                times.append(time.perf_counter())
    c.close()
    return "".join(text), tokens, (times[0], times[-1]) if times else (0, 0)


def one_stream(port, prompts, max_tokens):
    """Per prompt: (decode tokens/s, text)."""
    out = {}
    for name, prompt in prompts.items():
        text, tokens, (first, last) = chat(port, prompt, max_tokens)
        rate = (tokens - 1) / (last - first) if last > first else float("nan")
        out[name] = (rate, text)
    return out


def many_streams(port, prompts, max_tokens, streams):
    """`streams` concurrent requests cycling through the prompts: aggregate decode tokens/s and texts."""
    names = list(prompts)
    results = [None] * streams

    def run(i):
        results[i] = chat(port, prompts[names[i % len(names)]], max_tokens)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(streams)]
    for t in threads: t.start()
    for t in threads: t.join()
    first = min(r[2][0] for r in results)
    last = max(r[2][1] for r in results)
    tokens = sum(r[1] for r in results)
    texts = {}
    for i, r in enumerate(results):
        texts.setdefault(names[i % len(names)], r[0])
    return tokens / (last - first), texts


def warm(port):
    """One short request first: the first pass of a fresh process faults its pages in."""
    chat(port, "Say hello.", 8)


def start_kvserve(args, speculation):
    port = free_port()
    p = subprocess.Popen([args.kvserve, "serve", "--set", f"model={args.model}", "--set", f"port={port}",
                          "--set", f"speculation={speculation}", "--set", "session_store=memory", "--set", "kv_disk_bytes=0",
                          "--set", f"threads={args.threads}", "--set", f"data_dir={tempfile.mkdtemp()}"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_ready(port, process=p)
    warm(port)
    return p, port


def start_llama(args, spec, slots):
    port = free_port()
    cmd = [args.llama_server, "-m", args.model, "--port", str(port), "-t", str(args.threads), "-c", str(2048 * slots),
           "-np", str(slots), "--jinja", "--spec-type", spec]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_ready(port, process=p, timeout=300)
    warm(port)
    return p, port


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kvserve", default=os.path.join(ROOT, ".build/release/kvserve"))
    ap.add_argument("--llama-server")
    ap.add_argument("--model", default=os.path.join(ROOT, "models/SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--streams", default="1,16")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--only", help="kvserve or llama-server")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    streams = [int(s) for s in args.streams.split(",")]

    arms = []
    if args.only != "llama-server":
        arms += [("kvserve", "off"), ("kvserve", "ngram")]
    if args.llama_server and args.only != "kvserve":
        arms += [("llama-server", s) for s in ["none", "ngram-simple", "ngram-map-k", "ngram-mod"]]
    prompts = {**GROUNDED, **PROSE}
    # rates[(server, mode, streams)][prompt or "grounded"/"prose"] = [per round]; texts for identity.
    rates, texts = {}, {}
    for round in range(args.rounds):
        for server, mode in arms:
            for n in streams:
                p, port = start_kvserve(args, mode) if server == "kvserve" else start_llama(args, mode, n)
                try:
                    key = (server, mode, n)
                    if n == 1:
                        for name, (rate, text) in one_stream(port, prompts, args.max_tokens).items():
                            rates.setdefault(key, {}).setdefault(name, []).append(rate)
                            texts.setdefault(key, {})[name] = text
                    else:
                        for group, chosen in [("grounded", GROUNDED), ("prose", PROSE)]:
                            rate, got = many_streams(port, chosen, args.max_tokens, n)
                            rates.setdefault(key, {}).setdefault(group, []).append(rate)
                            texts.setdefault(key, {}).update(got)
                finally:
                    p.terminate()
                    p.wait()
                print(f"round {round + 1}: {server} {mode} x{n} done", file=sys.stderr)

    report = []
    for (server, mode, n), per in rates.items():
        base = (server, "off" if server == "kvserve" else "none", n)
        for name, values in per.items():
            rate = statistics.median(values)
            off = statistics.median(rates[base][name])
            names = [name] if name in prompts else list(GROUNDED if name == "grounded" else PROSE)
            same = all(texts[(server, mode, n)].get(k) == texts[base].get(k) for k in names)
            report.append({"server": server, "mode": mode, "streams": n, "prompt": name, "tokens_per_s": rate,
                           "vs_off": rate / off, "same_as_off": same})
    if args.json:
        print(json.dumps(report, indent=1))
        return
    for n in streams:
        print(f"\n{n} stream(s): decode tokens/s (x own speculation-off; = reply identical to off)")
        names = list(prompts) if n == 1 else ["grounded", "prose"]
        print(f"{'':26s}" + "".join(f"{name:>16s}" for name in names))
        for server, mode in arms:
            row = {r["prompt"]: r for r in report if r["server"] == server and r["mode"] == mode and r["streams"] == n}
            cells = "".join(f"{row[k]['tokens_per_s']:7.1f} {row[k]['vs_off']:4.2f}x{'=' if row[k]['same_as_off'] else '≠'}"
                            .rjust(16) for k in names)
            print(f"{server + ' ' + mode:26s}{cells}")


if __name__ == "__main__":
    main()
