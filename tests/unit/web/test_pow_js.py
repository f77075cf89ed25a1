"""The browser's proof of work (`knock/web/static/pow.js`) against Python's, run under Node.

The script's SHA-256 and solver are loaded with Node's `require` (the script exports them when
it finds no page and no worker); its worker role runs in a Node `vm` context dressed as a
worker. Skipped, saying so, where `node` is not installed (Debian: `apt install nodejs`).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from knock.core.pow import Passed, check, issue, leading_zero_bits, solve

SCRIPT = Path(__file__).resolve().parents[3] / "knock" / "web" / "static" / "pow.js"
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed (apt install nodejs)")

# Reads {"hex": [...], "solve": [[text, bits, start], ...], "bits": [...], "worker": [...]}
# from stdin and answers with the script's results, in the same shape.
HARNESS = r"""
const fs = require("fs");
const vm = require("vm");
const path = process.argv[1];
const pow = require(path);
const cases = JSON.parse(fs.readFileSync(0, "utf8"));
const posted = [];
const worker = { importScripts() {}, TextEncoder, postMessage: (m) => posted.push(m) };
worker.self = worker;
vm.createContext(worker);
vm.runInContext(fs.readFileSync(path, "utf8"), worker);
for (const [text, bits] of cases.worker) worker.onmessage({ data: { text, bits } });
process.stdout.write(JSON.stringify({
  hex: cases.hex.map(pow.sha256Hex),
  solve: cases.solve.map(([text, bits, start]) => pow.solve(text, bits, start).nonce),
  bits: cases.bits.map((text) => { const b = pow.bitsOf(text); return isNaN(b) ? null : b; }),
  worker: posted,
  exported: Object.keys(pow).sort(),
  workerExports: typeof worker.KnockPow,
}));
"""


def run_node(cases: dict[str, Any]) -> dict[str, Any]:
    assert NODE is not None
    done = subprocess.run(
        [NODE, "-e", HARNESS, str(SCRIPT)],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def empty_cases() -> dict[str, Any]:
    return {"hex": [], "solve": [], "bits": [], "worker": []}


def test_the_scripts_sha256_is_sha256() -> None:
    # Every length around the padding's edges (55/56, 63/64, 119/120), more than two blocks,
    # a long text, and characters of one to four bytes in UTF-8.
    texts = ["", "abc", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"]
    texts += ["a" * n for n in range(1, 200)] + ["x" * 10_000]
    texts += ["é", "✓ done", "😀" * 40, "knock:" + "ÿ" * 70]
    answers = run_node({**empty_cases(), "hex": texts})["hex"]
    assert answers == [hashlib.sha256(text.encode()).hexdigest() for text in texts]


def test_the_script_finds_the_same_nonce_as_python() -> None:
    # Text lengths across a block, so the nonce's digits and padding land in one block or spill
    # into a second; starts just below a power of ten, so the nonce grows by a digit mid-run.
    cases = [(f"{'c' * length}", 6, start) for length in range(0, 140, 3) for start in (0, 95)]
    cases += [("t" * 40, 8, 9_990), ("u" * 53, 8, 999_980), ("", 0, 0), ("v", 0, 12)]
    answers = run_node({**empty_cases(), "solve": cases})["solve"]
    expected = [solve(text, bits, start) for text, bits, start in cases]
    assert answers == expected
    assert all(
        leading_zero_bits(hashlib.sha256(f"{text}:{nonce}".encode()).digest()) >= bits
        for (text, bits, _), nonce in zip(cases, answers, strict=True)
    )


def test_the_scripts_nonce_passes_knocks_check() -> None:
    key, now = b"a server key", 1_800_000_000.0
    challenges = [issue(key, now, bits) for bits in (0, 4, 10, 12)]
    cases = {
        **empty_cases(),
        "solve": [[c.text, c.bits, 0] for c in challenges],
        "bits": [c.text for c in challenges] + ["no challenge", "a.b.c", "a.1.xx.d", "a.1.100.d"],
    }
    answers = run_node(cases)
    for challenge, nonce in zip(challenges, answers["solve"], strict=True):
        assert check(key, challenge.text, nonce, now + 10, challenge.bits) == Passed(
            challenge.challenge_id, challenge.expires_at
        )
    assert answers["bits"] == [0, 4, 10, 12, None, None, None, None]


def test_as_a_worker_the_script_answers_each_message_with_a_nonce() -> None:
    challenge = issue(b"key", 0.0, 10)
    answers = run_node({**empty_cases(), "worker": [[challenge.text, 10], ["plain", 5]]})
    nonce = solve(challenge.text, 10)
    assert answers["worker"] == [
        {"nonce": nonce, "hashes": int(nonce) + 1},
        {"nonce": solve("plain", 5), "hashes": int(solve("plain", 5)) + 1},
    ]
    assert answers["workerExports"] == "undefined"  # a worker gets no page API
    assert answers["exported"] == ["bitsOf", "hasZeroBits", "sha256Hex", "solve"]


def test_the_script_is_plain_es2017_with_nothing_inline_to_allow() -> None:
    source = SCRIPT.read_text(encoding="utf-8")
    assert source.isascii()  # served with any charset, the same text
    for later in ("?.", "??", "import(", "import ", "export ", "eval(", "new Function"):
        assert later not in source, later
