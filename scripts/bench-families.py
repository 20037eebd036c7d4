#!/usr/bin/env python3
"""Decode and prefill speed per model family beside llama-bench, in one run.

Makes the untied llama3, qwen2, qwen3 and phi3 files of
scripts/make-test-models.py (random weights, each family's real tokenizer)
as F16 and Q4_K in a temporary directory, runs `kvserve bench decode` on
each with llama-bench measured in the same run (`--llama-bench`), and prints
a Markdown table of pp512 and tg128 with the ratios. A benchmark, not a
test; BENCHMARKS.md records its output.

These files are small (width 256, 2-4 layers), so a token's time is mostly
the output projection over the vocabulary (32,064 to 151,936 rows): the
numbers say how each family's pass and the F16 / Q4_K kernels compare with
llama.cpp's, not what a 1B model runs at.

Usage: scripts/bench-families.py --llama-bench PATH [--kvserve PATH] [--repetitions N]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FILES = ["llama3", "qwen2", "qwen3", "phi3"]
TYPES = ["f16", "q4_k"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--llama-bench", required=True)
    ap.add_argument("--kvserve", default=str(ROOT / ".build" / "release" / "kvserve"))
    ap.add_argument("--repetitions", type=int, default=3)
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        subprocess.run([sys.executable, str(ROOT / "scripts" / "make-test-models.py"), "--out", directory,
                        "--families", ",".join(FILES), "--types", ",".join(TYPES)],
                       check=True, stdout=subprocess.DEVNULL)
        for family in FILES:
            for kind in TYPES:
                name = f"{family}-{kind}.gguf"
                data = os.path.join(directory, name + ".json")
                print(f"bench-families: {name}", file=sys.stderr)
                subprocess.run([args.kvserve, "bench", "decode", "--model", os.path.join(directory, name),
                                "--contexts", "128", "--prompt-tokens", "512", "--repetitions", str(args.repetitions),
                                "--llama-bench", args.llama_bench, "--data", data, "--json"],
                               check=True, stdout=subprocess.DEVNULL)
                d = json.load(open(data))
                peer = d["llamaCpp"]
                rows.append((name, d["prefill"][0]["tokensPerSecond"], peer["prefillTokensPerSecond"][0],
                             d["decode"][0]["tokensPerSecond"], peer["decodeTokensPerSecond"][0],
                             peer["decodeStandardDeviation"][0]))
    print("| file | pp512 kvserve | pp512 llama.cpp | ratio | tg128 kvserve | tg128 llama.cpp | ratio |")
    print("|---|---|---|---|---|---|---|")
    for name, pp, peer_pp, tg, peer_tg, peer_sd in rows:
        print(f"| {name} | {pp:.0f} | {peer_pp:.0f} | {pp / peer_pp:.2f}x | {tg:.1f} | {peer_tg:.1f} ± {peer_sd:.1f} "
              f"| **{tg / peer_tg:.2f}x** |")


if __name__ == "__main__":
    main()
