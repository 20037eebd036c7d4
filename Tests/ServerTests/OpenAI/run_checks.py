#!/usr/bin/env python3
"""Runs SDK checks against one server, several at once.

Usage:
    python3 run_checks.py --base-url http://127.0.0.1:PORT --key KEY_A --other-key KEY_B \
        [--jobs N] [--results FILE] CHECK [CHECK ...]

Each CHECK runs exactly as it does alone, in a process of its own:
`python3 sdk_checks.py --base-url ... --key ... --other-key ... CHECK` (tool_checks.py for tools_*,
structured_checks.py for structured_*), and its exit status and output (standard error included) are kept.
N checks run at a time (default 2), the slowest first: the checks are independent of one another (each has its
own sessions, session ids, topics and stored responses, and key B's prefix cache is checked only against a
random prompt of its own), and the engine batches their requests, which is where the time goes. Batching is
invisible in the output (each check compares replies with replies computed at another moment, in another batch).

--results FILE gets a JSON object {CHECK: {"status": int, "output": str, "seconds": float}}; standard output
gets one line per finished check, then the server's KV evictions and preemptions during the run (from /metrics).
The exit status is 0 when every check passed.
"""

import argparse
import concurrent.futures
import json
import os
import re
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))

# The longest checks (seconds on the test server, alone) start first so that the short ones fill in behind them.
# (Measured: structured_native_unseen about 40-55 s, half of all; stateless_replay 7-9 s; the rest 1-5 s each.)
SLOWEST_FIRST = ["structured_native_unseen", "stateless_replay", "structured_chat", "tenants", "structured_native",
                 "structured_tool_arguments", "responses_chain", "prompt_cache_key", "tools_responses_round_trip",
                 "structured_responses", "control_tokens", "structured_json_object", "session_header",
                 "session_id_body", "tools_chat_round_trip"]

# A check that takes longer than this is stopped and reported as failed.
TIMEOUT_SECONDS = 900


def script_for(name):
    if name.startswith("tools_"):
        return os.path.join(HERE, "tool_checks.py")
    if name.startswith("structured_"):
        return os.path.join(HERE, "structured_checks.py")
    return os.path.join(HERE, "sdk_checks.py")


def run_check(name, arguments):
    command = [sys.executable, script_for(name), "--base-url", arguments.base_url, "--key", arguments.key,
               "--other-key", arguments.other_key, name]
    started = time.monotonic()
    try:
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=TIMEOUT_SECONDS)
        status, output = done.returncode, done.stdout.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as error:
        status = -1
        output = (error.stdout or b"").decode("utf-8", "replace") + f"\nrun_checks.py: stopped after {TIMEOUT_SECONDS} s"
    return {"status": status, "output": output, "seconds": round(time.monotonic() - started, 2)}


def counters(base_url, key):
    """kvserve_kv_evictions_total and kvserve_preemptions_total, or {} when /metrics cannot be read."""
    try:
        request = urllib.request.Request(base_url.rstrip("/") + "/metrics", headers={"Authorization": f"Bearer {key}"})
        text = urllib.request.urlopen(request, timeout=30).read().decode()
    except OSError:
        return {}
    found = {}
    for name in ("kvserve_kv_evictions_total", "kvserve_preemptions_total"):
        match = re.search(rf"^{name}(?:{{[^}}]*}})? ([0-9.e+]+)$", text, re.M)
        if match:
            found[name] = float(match.group(1))
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--other-key", required=True)
    parser.add_argument("--jobs", type=int, default=2, help="checks at a time (1: one after another)")
    parser.add_argument("--results", help="a file for the JSON object of results")
    parser.add_argument("checks", nargs="+", metavar="CHECK")
    arguments = parser.parse_args()

    rank = {name: i for i, name in enumerate(SLOWEST_FIRST)}
    order = sorted(arguments.checks, key=lambda name: rank.get(name, len(rank)))
    before = counters(arguments.base_url, arguments.key)
    started = time.monotonic()
    results = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, arguments.jobs)) as pool:
        futures = {pool.submit(run_check, name, arguments): name for name in order}
        for future in concurrent.futures.as_completed(futures):
            name = futures[future]
            results[name] = future.result()
            print(f"{'ok  ' if results[name]['status'] == 0 else 'FAIL'} {name} ({results[name]['seconds']} s)",
                  flush=True)
    elapsed = time.monotonic() - started
    after = counters(arguments.base_url, arguments.key)
    deltas = {name.removeprefix("kvserve_"): after[name] - before.get(name, 0) for name in after}
    print(json.dumps({"checks": len(results), "jobs": arguments.jobs, "seconds": round(elapsed, 1),
                      "sum_of_check_seconds": round(sum(r["seconds"] for r in results.values()), 1), **deltas}),
          flush=True)
    if arguments.results:
        with open(arguments.results, "w") as file:
            json.dump({name: results[name] for name in arguments.checks}, file)
    return 0 if all(r["status"] == 0 for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
