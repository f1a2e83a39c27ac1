#!/usr/bin/env python3
"""Long differential fuzzing run (issue 6): many random models against autograd and finite differences.

    python scripts/fuzz_long.py --models 5000 [--seed 0] [--minutes 30] [--stack-percent 25]
    python scripts/fuzz_long.py --replay 1234        # one model, by its seed: print and check it
    python scripts/fuzz_long.py --include-known      # also generate the triggers of known bugs

The generator and the checks are those of ``tests/test_fuzz.py``; here recipes
come from ``random.Random(seed + i)``, so every model is replayable by its
seed. Prints the number of models tried, the operations covered (counts per
operation) and every disagreement or crash (grouped by stage and message,
with the smallest model of each group printed in full).
"""
from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
import warnings
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.test_fuzz import (AVOIDABLE, FOCUS, BadRecipe, Disagreement, RandomDraw, check_recipe,  # noqa: E402
                             draw_recipe, known_bug, reference_source, shrink_recipe,
                             symgrad_source)


def signature(error: Disagreement) -> str:
    """A key grouping failures of the same kind: the stage and the message's first line, numbers masked."""
    first = error.message.splitlines()[0] if error.message else ""
    first = re.sub(r"\b[A-Z][A-Za-z]*\d+\b|\b[A-Z]\d*_?\w*\b", "<name>", first)
    first = re.sub(r"[-+]?\d[\d.e+-]*", "#", first)
    return f"{error.stage}: {first[:160]}"


def shrunk(error: Disagreement, workdir: Path, fd: bool) -> Disagreement:
    """The same failure on the smallest recipe ``shrink_recipe`` finds."""
    key = signature(error)
    last = [error]

    def fails(recipe) -> bool:
        try:
            check_recipe(recipe, workdir, fd)
        except Disagreement as again:
            if signature(again) == key:
                last[0] = again
                return True
        except Exception:
            pass
        return False

    shrink_recipe(error.recipe, fails)
    return last[0]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0, help="first seed; model i uses seed + i")
    parser.add_argument("--minutes", type=float, default=None, help="stop after this long")
    parser.add_argument("--stack-percent", type=int, default=25)
    parser.add_argument("--max-budget", type=int, default=8, help="operations per model, at most about")
    parser.add_argument("--no-fd", action="store_true", help="skip finite differences (faster)")
    parser.add_argument("--replay", type=int, default=None, help="check the model of one seed, verbosely")
    parser.add_argument("--include-known", action="store_true",
                        help="also generate the triggers of known bugs (tests/test_fuzz.py KNOWN_BUGS)")
    parser.add_argument("--focus", default="mixed",
                        help="'mixed' (default: every other model is built around the next operation of "
                             "FOCUS), 'none' (all random), 'cycle' (all built around one), or one operation")
    parser.add_argument("--no-shrink", action="store_true", help="print failing models as drawn")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")

    workdir = Path(tempfile.mkdtemp(prefix="symgrad_fuzz_"))
    avoid = frozenset() if args.include_known else AVOIDABLE

    def recipe_of(seed: int):
        """Model ``seed``: its focus follows from the seed, so --replay SEED rebuilds it."""
        if args.focus == "none" or (args.focus == "mixed" and seed % 2):
            focus = None
        elif args.focus in ("mixed", "cycle"):
            focus = FOCUS[(seed // (2 if args.focus == "mixed" else 1)) % len(FOCUS)]
        else:
            focus = args.focus
        return draw_recipe(RandomDraw(seed), args.stack_percent, args.max_budget, avoid, focus)
    if args.replay is not None:
        recipe = recipe_of(args.replay)
        print(symgrad_source(recipe))
        print(reference_source(recipe))
        print(f"which={recipe.which} depth={recipe.depth} seed={recipe.seed}")
        try:
            print(check_recipe(recipe, workdir, not args.no_fd))
        except Disagreement as error:
            print(error)
            return 1
        except BadRecipe as error:
            print(f"not checkable: {error}")
        return 0

    start = time.perf_counter()
    tried, ops, groups = 0, Counter(), defaultdict(list)
    reference_errors, rejected = [], 0
    for i in range(args.models):
        if args.minutes is not None and time.perf_counter() - start > 60 * args.minutes:
            break
        seed = args.seed + i
        recipe = recipe_of(seed)
        tried += 1
        ops.update(recipe.op_counts())
        try:
            check_recipe(recipe, workdir, not args.no_fd)
        except Disagreement as error:
            known = known_bug(error, avoid)
            key = f"known bug {known}: {signature(error)}" if known else signature(error)
            groups[key].append((len(recipe.nodes()), seed, error))
            if not args.quiet:
                print(f"seed {seed}: {key}", flush=True)
        except BadRecipe:
            rejected += 1
        except Exception as error:  # the fuzzer's own reference failed: a bug in the fuzzer
            reference_errors.append((seed, f"{type(error).__name__}: {error}"))
            if not args.quiet:
                print(f"seed {seed}: FUZZER ERROR {type(error).__name__}: {error}", flush=True)
        if not args.quiet and tried % 100 == 0:
            failed = sum(len(v) for v in groups.values())
            print(f"... {tried} models, {failed} disagreements, {time.perf_counter() - start:.0f} s", flush=True)

    seconds = time.perf_counter() - start
    failed = sum(len(v) for v in groups.values())
    print(f"\nmodels tried: {tried} in {seconds:.0f} s (seeds {args.seed}..{args.seed + tried - 1}); "
          f"{rejected} not checkable (the reference overflows at the drawn point)")
    known = sum(len(v) for k, v in groups.items() if k.startswith("known bug"))
    print(f"disagreements or crashes: {failed} in {len(groups)} group(s), {known} of them known bugs; "
          f"fuzzer errors: {len(reference_errors)}")
    print("known bugs " + ("generated too" if args.include_known else
                           f"avoided by the generator: {', '.join(sorted(AVOIDABLE))}"))
    print("\noperations covered (number of uses over all models):")
    for op, count in sorted(ops.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {op:32s} {count}")
    for key, items in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        items.sort(key=lambda item: item[0])
        _, seed, error = items[0]
        if not args.no_shrink:
            error = shrunk(error, workdir, not args.no_fd)
        print(f"\n=== {len(items)} x {key}\n    seeds: {', '.join(str(s) for _, s, _ in items[:20])}"
              f"{' ...' if len(items) > 20 else ''}\n    smallest (seed {seed}){'' if args.no_shrink else ', shrunk'}:")
        print("\n".join("    " + line for line in str(error).splitlines()))
    for seed, message in reference_errors[:20]:
        print(f"\nfuzzer error, seed {seed}: {message}")
    return 1 if failed or reference_errors else 0


if __name__ == "__main__":
    sys.exit(main())
