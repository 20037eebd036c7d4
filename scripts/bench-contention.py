#!/usr/bin/env python3
"""Decode speed when another process competes for the cores.

The bar (issue 15): with one CPU-bound process competing for the machine's
cores, kvserve's decode tokens/s is still >= llama.cpp's under the same
competition.

Measured in one run, alternating, each `--repeat` times:
  kvserve   `kvserve generate --json`, 128 greedy tokens after a 4-token
            prompt; its reported decode tokens/s.
  llama.cpp `llama-bench -p 0 -n 128 -r 1` (tg128), its avg_ts.
first alone, then with a competitor: a Python busy loop per `--competitors`
(default 1), started before and killed after each measurement. Both use the
threads they would by default (kvserve: one per usable CPU; llama-bench is
given the same count).

Usage: scripts/bench-contention.py --llama-bench PATH [--kvserve PATH] [--repeat 3] [--competitors 1] [--json]
Only the Python standard library is used.
"""
import argparse, csv, io, json, os, statistics, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(ROOT, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
KVSERVE = os.path.join(ROOT, ".build", "release", "kvserve")


def kvserve_decode():
    out = subprocess.run([args.kvserve, "generate", "--model", MODEL, "--prompt", "Once upon a time", "--max-tokens", "128",
                          "--temperature", "0", "--json"], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])["decode_tokens_per_s"]


def llama_decode(llama_bench, threads):
    out = subprocess.run([llama_bench, "-m", MODEL, "-p", "0", "-n", "128", "-r", "1", "-t", str(threads), "-o", "csv"],
                         capture_output=True, text=True, check=True).stdout
    return float(list(csv.DictReader(io.StringIO(out)))[-1]["avg_ts"])


def with_competitors(count, measure):
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        time.sleep(1)
        return measure()
    finally:
        for p in busy:
            p.kill()
            p.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--llama-bench", required=True)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--competitors", type=int, default=1)
    parser.add_argument("--kvserve", default=KVSERVE, help="the kvserve executable (default: the release build)")
    parser.add_argument("--json", action="store_true")
    global args
    args = parser.parse_args()
    threads = len(os.sched_getaffinity(0))
    runs = {"kvserve alone": [], "llama.cpp alone": [], "kvserve contended": [], "llama.cpp contended": []}
    for r in range(args.repeat):
        print(f"repetition {r + 1} of {args.repeat}", file=sys.stderr)
        runs["kvserve alone"].append(kvserve_decode())
        runs["llama.cpp alone"].append(llama_decode(args.llama_bench, threads))
        runs["kvserve contended"].append(with_competitors(args.competitors, kvserve_decode))
        runs["llama.cpp contended"].append(with_competitors(args.competitors, lambda: llama_decode(args.llama_bench, threads)))
    medians = {k: statistics.median(v) for k, v in runs.items()}
    report = {"threads": threads, "competitors": args.competitors, "runs": runs, "medians": medians,
              "ratio_alone": medians["kvserve alone"] / medians["llama.cpp alone"],
              "ratio_contended": medians["kvserve contended"] / medians["llama.cpp contended"]}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"decode tokens/s, {threads} threads, {args.competitors} busy-loop competitor(s) when contended")
    for k, v in runs.items():
        print(f"  {k:20s} {', '.join(f'{x:.1f}' for x in v)}  (median {medians[k]:.1f})")
    print(f"  kvserve / llama.cpp: alone {report['ratio_alone']:.2f}x, contended {report['ratio_contended']:.2f}x")


if __name__ == "__main__":
    main()
