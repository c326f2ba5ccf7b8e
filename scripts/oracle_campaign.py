"""A fuzz campaign of the network oracle: N random networks, convcalc against torch.

    python scripts/oracle_campaign.py            # 1,500 networks from seed 0
    python scripts/oracle_campaign.py -n 200 --seed 5000 --no-shrink

Each network is drawn by ``tests/netgen.py``, written as a spec (``tests/netspec.py``),
built in torch from the same description (``tests/nettorch.py``, never from convcalc's
export) and compared (``tests/netcheck.py``). Prints the agreement by construct, the
outcomes, and for each kind of disagreement its count and the first network shrunk to a
minimal repro. Needs torch and torchvision; run with PYTHONPATH at the repository root.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch

from tests.netcheck import constructs, judge, shrink
from tests.netgen import Generator, RandomChooser
from tests.netspec import Net

OUTCOMES = ("accepted", "lossy (policy)", "refused", "disagree")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1500, help="networks (default 1,500)")
    parser.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    parser.add_argument("--no-shrink", action="store_true", help="print repros unshrunk")
    options = parser.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")

    by_construct: dict[str, Counter[str]] = defaultdict(Counter)
    outcomes: Counter[str] = Counter()
    refusals: Counter[str] = Counter()
    categories: Counter[str] = Counter()
    first: dict[str, tuple[int, Net]] = {}
    start = time.perf_counter()
    for seed in range(options.seed, options.seed + options.n):
        net = Generator(RandomChooser(seed)).network()
        verdict = judge(net)
        outcomes[verdict.outcome] += 1
        if verdict.truth.refused is not None:
            refusals[verdict.truth.refused.by] += 1
        for tag in constructs(net):
            by_construct[tag][verdict.outcome] += 1
        for category in {f.category for f in verdict.findings}:
            categories[category] += 1
            first.setdefault(category, (seed, net))
    elapsed = time.perf_counter() - start

    print(f"{options.n:,} networks (seeds {options.seed}–{options.seed + options.n - 1}) "
          f"in {elapsed:.0f} s, torch {torch.__version__}")
    print(", ".join(f"{outcomes[o]:,} {o}" for o in OUTCOMES) +
          f"; torch refused {refusals['torch']:,}, the language's rules {refusals['rule']:,}")
    print()
    width = max(len(tag) for tag in by_construct)
    print(f"{'construct':<{width}}  networks  accepted  lossy  refused  disagree  agree %")
    for tag in sorted(by_construct):
        counts = by_construct[tag]
        total = sum(counts.values())
        agree = 100 * (total - counts["disagree"]) / total
        print(f"{tag:<{width}}  {total:8,}  {counts['accepted']:8,}  {counts['lossy (policy)']:5,}"
              f"  {counts['refused']:7,}  {counts['disagree']:8,}  {agree:6.1f}")
    print()
    if not categories:
        print("no disagreement")
    for category, count in categories.most_common():
        seed, net = first[category]
        small = net if options.no_shrink else shrink(net, category)
        verdict = judge(small)
        detail = next((f.detail for f in verdict.findings if f.category == category), "?")
        print(f"## {category}: {count} network(s), first seed {seed}")
        print(f"   {detail}")
        refused = verdict.truth.refused
        if refused is not None and refused.reason not in detail:
            print(f"   torch ({refused.by}): {refused.reason}")
        print("   " + verdict.text.rstrip().replace("\n", "\n   "))
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
