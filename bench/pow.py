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
  go and in the slices it falls back to when no worker can start. Playwright drives Debian's
  Chromium with the browser tests' flags and serves the page as they do
  (`tests/integration/browser/browsing.py`).

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
import asyncio
import json
import math
import os
import platform
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from playwright.async_api import async_playwright
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from knock.core.pow import issue, solve
from tests.integration.browser.browsing import CHROMIUM_ARGS, chromium_path, served

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
"""

# Run in the page by Playwright: worker start-up, then each way of solving; returns them all.
BENCH_RUN = r"""
async ({ challenges, steady }) => {
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
  const found = await new Promise((resolve) => {
    const worker = new Worker("/pow.js");
    worker.onmessage = (event) => { worker.terminate(); resolve(event.data); };
    worker.postMessage({ text: challenges[0].text, bits: 256, start: 0, limit: steady });
  });
  results.worker_steady = { hashes: found.hashes, seconds: (performance.now() - began) / 1000 };
  await run("worker", KnockPow.solveSomewhere);
  await run("page", async (text, bits) => KnockPow.solve(text, bits));
  await run("page_sliced", KnockPow.solveHere);
  return results;
}
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


async def browser_rates(
    browser: str, challenges: list[dict[str, Any]], steady: int, timeout: float
) -> dict[str, Any]:
    """Serve the page on 127.0.0.1, open it in headless Chromium, run the solvers there."""
    # As Knock's pages are: scripts, workers and fetches from the same origin only. And a
    # fresh worker fetches its script again, as a visitor's browser would the first time.
    headers = {"Content-Security-Policy": "default-src 'self'", "Cache-Control": "no-store"}

    async def page(_: Request) -> Response:
        return HTMLResponse(BENCH_PAGE, headers=headers)

    async def script(_: Request) -> Response:
        return Response(SCRIPT.read_bytes(), media_type="text/javascript", headers=headers)

    app = Starlette(routes=[Route("/", page), Route("/pow.js", script)])
    async with served(app) as url, async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=browser, args=CHROMIUM_ARGS)
        try:
            tab = await chromium.new_page()
            await tab.goto(url + "/")
            run = tab.evaluate(BENCH_RUN, {"challenges": challenges, "steady": steady})
            result: dict[str, Any] = await asyncio.wait_for(run, timeout)
        finally:
            await chromium.close()
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
    found = chromium_path()
    parser.add_argument(
        "--browser", default=found if os.access(found, os.X_OK) else "", help='Chromium; "" to skip'
    )
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
        page = asyncio.run(browser_rates(args.browser, challenges, args.steady, args.timeout))
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
