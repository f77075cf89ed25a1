"""The block-list against the fixed evaluation set in tests/data/blocklist_eval.

Ratios only, never timings (those are in `python -m bench.blocklist`). Every id goes through the
same steps as a knock at admission: the repaired id is checked, with the raw text as `typed`.
The set is fixed data: a failure here is a finding about the engine, not a reason to regenerate
the set (see its README).
"""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

from knock.core import mxid
from knock.core.blocklist import BlockIndex, Entry

EVAL_DIR = Path(__file__).resolve().parents[3] / "data" / "blocklist_eval"
DEFAULT_SERVER = "matrix.org"
FLAGGED = frozenset({"block", "review"})

CAUGHT_TARGET = 0.95  # of the variants of the kinds the normaliser models
DISTINCT_FLAGGED_TARGET = 0.01
DISTINCT_BLOCKED_TARGET = 0.005

pytestmark = pytest.mark.slow


def _generator() -> ModuleType:
    name = "make_eval_set"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, EVAL_DIR / "make_eval_set.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@dataclass(frozen=True)
class Verdicts:
    """The verdict for every id of the set, by file."""

    blocked: list[str]
    variants: list[tuple[str, str, str]]  # (verdict, base kind, the variant line)
    distinct: list[tuple[str, str]]  # (verdict, id)
    dense: list[tuple[str, str]]
    modelled: tuple[str, ...]


def _verdict(index: BlockIndex, text: str) -> str:
    user_id = mxid.repair(text, DEFAULT_SERVER).candidate or text
    return index.check(user_id, typed=text).verdict


@pytest.fixture(scope="module")
def verdicts() -> Verdicts:
    gen = _generator()
    blocked = gen.load_ids(EVAL_DIR / "blocked.txt")
    index = BlockIndex(Entry(user_id) for user_id in blocked)
    variants = gen.load_variants(EVAL_DIR / "variants.txt")
    return Verdicts(
        blocked=[_verdict(index, user_id) for user_id in blocked],
        variants=[
            (_verdict(index, v.variant), v.base_kind, f"{v.variant} ({v.original}, {v.kind})")
            for v in variants
        ],
        distinct=[
            (_verdict(index, user_id), user_id)
            for user_id in gen.load_ids(EVAL_DIR / "innocent_distinct.txt")
        ],
        dense=[
            (_verdict(index, user_id), user_id)
            for user_id in gen.load_ids(EVAL_DIR / "innocent_dense.txt")
        ],
        modelled=tuple(gen.MODELLED_KINDS),
    )


def _share(verdicts: Sequence[str], wanted: frozenset[str]) -> float:
    return sum(verdict in wanted for verdict in verdicts) / len(verdicts)


def test_files_are_what_the_generator_makes() -> None:
    gen = _generator()
    files = gen.render(gen.make_eval_set())
    for name, text in files.items():
        assert (EVAL_DIR / name).read_text("utf-8") == text, f"{name} differs from the generator"


def test_set_sizes() -> None:
    gen = _generator()
    assert len(gen.load_ids(EVAL_DIR / "blocked.txt")) == 10_000
    assert len(gen.load_variants(EVAL_DIR / "variants.txt")) == 1_000
    assert len(gen.load_ids(EVAL_DIR / "innocent_distinct.txt")) == 10_000
    assert len(gen.load_ids(EVAL_DIR / "innocent_dense.txt")) > 5_000


def test_every_blocked_id_is_blocked(verdicts: Verdicts) -> None:
    assert Counter(verdicts.blocked) == {"block": len(verdicts.blocked)}


def test_variants_of_modelled_kinds_are_caught(verdicts: Verdicts) -> None:
    modelled = [(v, kind, line) for v, kind, line in verdicts.variants if kind in verdicts.modelled]
    caught = _share([v for v, _, _ in modelled], FLAGGED)
    missed = [line for v, _, line in modelled if v not in FLAGGED]
    per_kind = {
        kind: _share([v for v, k, _ in modelled if k == kind], FLAGGED)
        for kind in verdicts.modelled
    }
    assert caught >= CAUGHT_TARGET, (
        f"caught {caught:.1%} of {len(modelled)} modelled variants; per kind {per_kind}; "
        f"missed e.g. {missed[:10]}"
    )


def test_innocent_distinct_ids_are_rarely_flagged(verdicts: Verdicts) -> None:
    states = [v for v, _ in verdicts.distinct]
    flagged = _share(states, FLAGGED)
    blocked = _share(states, frozenset({"block"}))
    examples = [user_id for v, user_id in verdicts.distinct if v in FLAGGED][:10]
    assert flagged <= DISTINCT_FLAGGED_TARGET, f"{flagged:.2%} flagged, e.g. {examples}"
    assert blocked <= DISTINCT_BLOCKED_TARGET, f"{blocked:.2%} blocked, e.g. {examples}"
