"""`python -m bench.pow`: what the page's proof of work costs an honest visitor.

    python -m bench.pow                          # 64 challenges of 16 bits each
    python -m bench.pow --bits 18 --challenges 32 --browser ""

The same fresh challenges (`knock.core.pow.issue`) are solved by:

- Python: `knock.core.pow.solve` (hashlib, the prefix hashed once and copied per try);
- Node: the browser's script, `knock/web/static/pow.js`, loaded with `require` (skipped when
  `node` is missing);
- headless Chromium (`--browser`, skipped when it is missing or ""): the same script in a page
  served from 127.0.0.1, solving as a visitor's browser does, in a Web Worker started from the
  script itself (one worker per solve, as on submit), and on the page's own thread both in one
  go and in the slices it falls back to when no worker can start.

A rate is the tries summed over every challenge (a solution's nonce + 1, since every solver
counts from 0) over the time taken. The browser's nonces must equal Python's, so the run also
checks that the script finds what `check` accepts. The browser also runs one long solve in one
worker (`--steady` tries: the steady rate) and ten solves of 0 bits (a worker's start-up). From
those two, the time of one solve at each difficulty: the start-up, then 2^bits tries on average;
the number of tries is geometric, so the 95th percentile is ln(20) x 2^bits (about 3 x) and the
99th ln(100) x 2^bits (about 4.6 x).

bench/README.md keeps the results.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import queue
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from knock.core.pow import issue, solve
from knock_testing.browser import Chromium, Site, find_chromium

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "knock" / "web" / "static" / "pow.js"
TABLE_BITS = (12, 16, 18, 20, 22)
KEY = b"bench-pow-key"

# Node: the challenges on stdin, {"hashes": n, "seconds": s, "nonces": [...]} on stdout.
NODE_RUN = r"""
const pow = require(process.argv[1]);
const challenges = JSON.parse(require("fs").readFileSync(0, "utf8"));
const began = process.hrtime.bigint();
let hashes = 0;
const nonces = [];
for (const c of challenges) {
  const found = pow.solve(c.text, c.bits);
  hashes += found.hashes;
  nonces.push(found.nonce);
}
const seconds = Number(process.hrtime.bigint() - began) / 1e9;
process.stdout.write(JSON.stringify({ hashes, seconds, nonces }));
"""

BENCH_PAGE = """<!doctype html>
<meta charset="utf-8">
<title>pow bench</title>
<script src="/pow.js"></script>
<script src="/bench-run.js"></script>
"""

# The page: worker start-up, then each way of solving, then everything POSTed to /result.
BENCH_RUN = r"""
(async function () {
  const challenges = await (await fetch("/challenges.json")).json();
  const results = { userAgent: navigator.userAgent, cores: navigator.hardwareConcurrency };
  let began = performance.now();
  for (const c of challenges.slice(0, 10)) await KnockPow.solveSomewhere(c.text, 0);
  results.worker_start_ms = (performance.now() - began) / Math.min(10, challenges.length);
  async function run(name, solveOne) {
    let hashes = 0;
    const nonces = [];
    const start = performance.now();
    for (const c of challenges) {
      const found = await solveOne(c.text, c.bits);
      hashes += found.hashes;
      nonces.push(found.nonce);
    }
    results[name] = { hashes, seconds: (performance.now() - start) / 1000, nonces };
  }
  began = performance.now();
  const steady = await new Promise((resolve) => {
    const worker = new Worker("/pow.js");
    worker.onmessage = (event) => { worker.terminate(); resolve(event.data); };
    worker.postMessage({ text: challenges[0].text, bits: 256, start: 0, limit: STEADY });
  });
  results.worker_steady = { hashes: steady.hashes, seconds: (performance.now() - began) / 1000 };
  await run("worker", KnockPow.solveSomewhere);
  await run("page", async (text, bits) => KnockPow.solve(text, bits));
  await run("page_sliced", KnockPow.solveHere);
  return results;
})().then(
  (results) => fetch("/result", { method: "POST", body: JSON.stringify(results) }),
  (error) => fetch("/result", { method: "POST", body: JSON.stringify({ error: String(error) }) }),
);
"""


def python_rate(challenges: list[dict[str, Any]]) -> dict[str, Any]:
    start = time.perf_counter()
    nonces = [solve(c["text"], c["bits"]) for c in challenges]
    seconds = time.perf_counter() - start
    return {"hashes": sum(int(n) + 1 for n in nonces), "seconds": seconds, "nonces": nonces}


def node_rate(node: str, challenges: list[dict[str, Any]]) -> dict[str, Any]:
    done = subprocess.run(
        [node, "-e", NODE_RUN, str(SCRIPT)],
        input=json.dumps(challenges),
        capture_output=True,
        text=True,
        timeout=1800,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def browser_rates(
    browser: str, challenges: list[dict[str, Any]], steady: int, timeout: float
) -> dict[str, Any]:
    """Serve the page on 127.0.0.1, open it in headless Chromium, wait for what it POSTs."""
    run = BENCH_RUN.replace("STEADY", str(steady))
    files = {
        "/pow.js": (SCRIPT.read_bytes(), "text/javascript"),
        "/bench-run.js": (run.encode(), "text/javascript"),
        "/challenges.json": (json.dumps(challenges).encode(), "application/json"),
        "/": (BENCH_PAGE.encode(), "text/html; charset=utf-8"),
    }
    # As Knock's pages will be: scripts, workers and fetches from the same origin only.
    with Site(files, {"Content-Security-Policy": "default-src 'self'"}) as site:
        with Chromium(site.url + "/", browser) as chromium:
            try:
                posted = site.next_post(timeout)
            except queue.Empty:
                tail = chromium.log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"the browser sent nothing in {timeout} s:\n{tail}") from None
    result: dict[str, Any] = json.loads(posted.body)
    if "error" in result:
        raise RuntimeError(f"the page failed: {result['error']}")
    return result


def per_second(run: dict[str, Any]) -> float:
    return float(run["hashes"]) / float(run["seconds"])


def cost_table(rate: float, start_s: float) -> list[str]:
    """Seconds of one solve at each difficulty: start-up, then 2^bits tries on average."""
    lines = [
        "| bits | tries on average | expected | 95th percentile (~3x) | 99th percentile (~4.6x) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for bits in TABLE_BITS:
        mean = 2.0**bits / rate
        lines.append(
            f"| {bits} | {2**bits:,} | {start_s + mean:.2f} s "
            f"| {start_s + mean * math.log(20):.2f} s | {start_s + mean * math.log(100):.2f} s |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.pow")
    parser.add_argument("--bits", type=int, default=16, help="difficulty of each challenge")
    parser.add_argument("--challenges", type=int, default=64)
    parser.add_argument("--steady", type=int, default=1 << 23, help="tries in one worker run")
    parser.add_argument("--node", default=shutil.which("node") or "", help='"" to skip')
    parser.add_argument("--browser", default=find_chromium() or "", help='Chromium; "" to skip')
    parser.add_argument("--timeout", type=float, default=600.0, help="for the browser's runs")
    args = parser.parse_args()

    now = time.time()
    challenges = [
        {"text": issue(KEY, now, args.bits, ttl=3600).text, "bits": args.bits}
        for _ in range(args.challenges)
    ]
    runs: dict[str, dict[str, Any]] = {"python": python_rate(challenges)}
    expected = runs["python"]["nonces"]
    if args.node:
        runs["node"] = node_rate(args.node, challenges)
    page: dict[str, Any] = {}
    if args.browser:
        page = browser_rates(args.browser, challenges, args.steady, args.timeout)
        for name in ("worker", "page", "page_sliced"):
            runs[f"chromium_{name}"] = page[name]
    wrong = [name for name, run in runs.items() if run["nonces"] != expected]
    assert not wrong, f"these found other nonces than Python: {wrong}"

    cores = os.cpu_count()
    print(f"machine: {platform.machine()}, {cores} cores, Python {platform.python_version()}")
    total = sum(int(n) + 1 for n in expected)
    print(f"{args.challenges} challenges of {args.bits} bits, {total:,} tries, each solver:")
    print()
    print("| solver | hashes/s |")
    print("| --- | --- |")
    for name, run in runs.items():
        print(f"| {name} | {per_second(run):,.0f} |")
    summary = {name: round(per_second(run)) for name, run in runs.items()}
    if page:
        steady = per_second(page["worker_steady"])
        start_s = page["worker_start_ms"] / 1000
        summary |= {"chromium_worker_steady": round(steady), "worker_start_ms": start_s * 1000}
        print(f"| chromium_worker_steady ({args.steady:,} tries in one worker) | {steady:,.0f} |")
        print()
        print(f"browser: {page['userAgent']}")
        print(f"a worker's start-up, a solve of 0 bits: {start_s * 1000:.1f} ms")
        print()
        print(f"one solve in a fresh worker: {start_s * 1000:.0f} ms, then {steady:,.0f} hashes/s:")
        print()
        for line in cost_table(steady, start_s):
            print(line)
    elif "node" in runs:
        print()
        print("one solve at node's rate (no browser run):")
        print()
        for line in cost_table(per_second(runs["node"]), 0.0):
            print(line)
    print()
    print(json.dumps({"bits": args.bits, "challenges": args.challenges, **summary}))


if __name__ == "__main__":
    main()
