#!/usr/bin/env python3
"""Sliding-window models: what keeping out-of-window K/V costs and buys.

kvserve keeps every layer's keys and values for every cached position, also
on Gemma 3's local layers, which attend to the last 512 positions only.
llama.cpp keeps the local layers' last window only (its SWA cache). This
measures both sides of that choice on the Gemma 3 270M file, kvserve beside
llama-server (-np 1, prompt cache on) in the same run:

  memory   KV bytes one ~2,400-token conversation holds: kvserve's blocks in
           use after it (/metrics, times the block size its log states), and
           llama-server's KV allocation for a 2,560-position context, the
           smallest that fits it (its log).
  append   a follow-up that extends the conversation: tokens prefilled and TTFT.
  branch   a request that shares only the first half of the conversation
           (an edited or regenerated turn): tokens prefilled and TTFT.

Each repeat starts the text with its own run number, so nothing is cached
from an earlier repeat; the two servers alternate which goes first.

Usage: scripts/bench-window.py --model models/gemma-3-270m-q4_k_m.gguf
           --llama-server PATH [--kvserve .build/release/kvserve] [--repeat 3]
Only the Python standard library is used.
"""
import argparse, http.client, json, os, re, socket, statistics, subprocess, tempfile, time
from benchlib import free_port, wait_ready

SENTENCES = [f"Note {n}: the {['red', 'green', 'blue', 'amber', 'violet'][n % 5]} lantern above door {n * 7 % 31} "
             f"was lit at {n % 12 + 1} o'clock." for n in range(1, 111)]


def wait_healthy(process, port, log, timeout=180):
    try:
        wait_ready(port, "/health", timeout, process)
    except RuntimeError:
        process.kill()
        log.seek(0)
        raise RuntimeError(f"server on port {port} did not come up: " + log.read()[-2000:].decode(errors="replace"))


def post(port, path, body):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    start = time.perf_counter()
    c.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    r = c.getresponse()
    data = json.loads(r.read())
    if r.status != 200:
        raise RuntimeError(f"{path}: {r.status} {data}")
    return data, time.perf_counter() - start


class KVServe:
    name = "kvserve"

    def __init__(self, binary, model, log):
        self.port = free_port()
        self.process = subprocess.Popen(
            [binary, "serve", "--set", f"model={model}", "--set", f"port={self.port}", "--set", "kv_cache_bytes=536870912",
             "--set", f"data_dir={tempfile.mkdtemp(prefix='kvserve-window-')}"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_healthy(self.process, self.port, log)
        log.seek(0)
        m = re.search(rb"(\d+) KV blocks of (\d+) positions \((\d+) MiB\)", log.read())
        self.bytes_per_block = int(m.group(3)) * 2**20 / int(m.group(1))

    def complete(self, prompt, max_tokens=1):
        """Returns (tokens prefilled, TTFT seconds as the server measured it)."""
        done, _ = post(self.port, "/v1/generate", {"prompt": prompt, "max_tokens": max_tokens, "temperature": 0,
                                                   "ignore_eos": True, "stream": False})
        usage = done["usage"]
        return usage["prompt_tokens"] - usage["cached_tokens"], done["timings"]["ttft_ms"] / 1000

    def held_bytes(self):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        c.request("GET", "/metrics")
        text = c.getresponse().read().decode()
        blocks = sum(float(re.search(r'kvserve_kv_blocks\{state="%s"\} (\S+)' % s, text).group(1)) for s in ("used", "cached"))
        return blocks * self.bytes_per_block

    def stop(self):
        self.process.terminate()
        self.process.wait()


class LlamaServer:
    name = "llama-server"

    def __init__(self, binary, model, log, context):
        self.port = free_port()
        self.log = log
        self.process = subprocess.Popen(
            [binary, "-m", model, "--port", str(self.port), "-np", "1", "-c", str(context), "-t", str(os.cpu_count()),
             "-lv", "4"],  # the level at which it logs its KV cache sizes
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_healthy(self.process, self.port, log)

    def complete(self, prompt, max_tokens=1):
        data, _ = post(self.port, "/completion", {"prompt": prompt, "n_predict": max_tokens, "temperature": 0,
                                                  "cache_prompt": True})
        t = data["timings"]
        return t["prompt_n"], t["prompt_ms"] / 1000

    def held_bytes(self):
        # Its KV caches are allocated at start for the context: the full-
        # attention layers' and the sliding-window layers' (window + a batch).
        self.log.seek(0)
        sizes = re.findall(rb"llama_kv_cache: size = +([\d.]+) MiB", self.log.read())
        return sum(float(s) for s in sizes) * 2**20

    def stop(self):
        self.process.terminate()
        self.process.wait()


def run(server, repeat):
    history = f"Run {repeat}. " + " ".join(SENTENCES)
    half = f"Run {repeat}. " + " ".join(SENTENCES[:len(SENTENCES) // 2])
    first, _ = server.complete(history)
    held = server.held_bytes()
    append = server.complete(history + " Which lantern was lit last?")
    branch = server.complete(half + " Which lantern was lit first?")
    return {"history_tokens": first, "held_bytes": held, "append": append, "branch": branch}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--llama-server", required=True)
    p.add_argument("--kvserve", default=".build/release/kvserve")
    p.add_argument("--repeat", type=int, default=3)
    a = p.parse_args()
    results = {"kvserve": [], "llama-server": []}
    for r in range(a.repeat):
        order = [KVServe, LlamaServer] if r % 2 == 0 else [LlamaServer, KVServe]
        for kind in order:
            with tempfile.TemporaryFile() as log:
                server = kind(a.kvserve, a.model, log) if kind is KVServe else kind(a.llama_server, a.model, log, 2560)
                try:
                    results[server.name].append(run(server, r))
                finally:
                    server.stop()
    print(f"{'':14} {'history':>8} {'KV held MiB':>12} {'append: prefilled, TTFT ms':>28} {'branch: prefilled, TTFT ms':>28}")
    for name, runs in results.items():
        med = lambda f: statistics.median(f(x) for x in runs)
        print(f"{name:14} {med(lambda x: x['history_tokens']):>8.0f} {med(lambda x: x['held_bytes']) / 2**20:>12.1f} "
              f"{med(lambda x: x['append'][0]):>14.0f} {med(lambda x: x['append'][1]) * 1000:>12.0f} "
              f"{med(lambda x: x['branch'][0]):>14.0f} {med(lambda x: x['branch'][1]) * 1000:>12.0f}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
