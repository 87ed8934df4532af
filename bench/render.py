"""Rendering benchmark: sizes of a 12-brief week, and an 8-brief digest's time per stage.

First the sizes (deterministic, no timing): for the 8-brief test digest and the 12-brief
week of ``examples/briefs``, untracked and tracked, the HTML as a reader gets it (filled with
values as long as real ones), the text part, their ratio, and how many briefs arrive in full
under the size budget and how many only as links to the web version.

Then the median time of each stage (Jinja, MJML, inlining, text) and the total for each
variant, the per-recipient cost (computing the values, filling subject + HTML + text), and,
when the official ``mjml`` npm package is installed (``make node-mjml`` puts it in
``tests/.node``; or ``--node-mjml DIR``), the official compiler's time for the MJML stage
alone, measured inside one node process, with the ratio.

    .venv/bin/python bench/render.py [--runs 50] [--node-mjml DIR] [--sizes-only]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import timeit
from dataclasses import dataclass, replace
from datetime import date
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the 8-brief fixture lives with the tests

from newsletter.render.compile import compile_variant  # noqa: E402
from newsletter.render.context import CompileContext  # noqa: E402
from newsletter.render.options import NarrativeDisplay, VariantOptions  # noqa: E402
from newsletter.render.recipient import RecipientInfo, RecipientValues  # noqa: E402
from newsletter.render.variant import CompiledVariant  # noqa: E402
from newsletter.tokens import TokenSigner  # noqa: E402
from tests.render.fixtures import DIGEST, WEEK  # noqa: E402

STAGES = ("jinja", "mjml", "inline", "text", "total")


@dataclass(frozen=True)
class Case:
    name: str
    narratives: NarrativeDisplay
    tracked: bool


CASES = (
    Case("all", "all", False),
    Case("facts-only", "facts-only", False),
    Case("no-forecast", "no-forecast", False),
    Case("all, tracked", "all", True),
)


def context(tracked: bool) -> CompileContext:
    return CompileContext(
        issue_date=date(2026, 11, 20),
        public_url="https://news.example.org",
        reply_to="editors@news.example.org",
        postal_address="The Briefing, 12 Harbour Street, Lisbon, Portugal",
        track_clicks=tracked,
        track_opens=tracked,
    )


SIZE_SETS = (("8-brief digest", DIGEST), ("12-brief week", WEEK))


def size_report() -> None:
    """HTML and text bytes of each set, untracked and tracked, and what fits the budget."""
    print("Sizes (all narratives; HTML filled with values as long as real ones)\n")
    header = (
        f"{'digest':<16}{'tracking':<10}{'HTML':>10}{'text':>10}{'HTML/text':>11}"
        f"{'whole HTML':>12}{'in full':>9}{'as links':>10}"
    )
    print(header + "\n" + "-" * len(header))
    for name, briefs in SIZE_SETS:
        for tracked in (False, True):
            options = VariantOptions(intro="This week's briefs.")
            fitted = compile_variant(briefs, options, context(tracked))
            whole = compile_variant(briefs, options, replace(context(tracked), fit_to_budget=False))
            html = fitted.estimated_size
            text = len(fitted.typical.text.encode())
            whole_text = len(whole.typical.text.encode())
            print(
                f"{name:<16}{'on' if tracked else 'off':<10}{html:>10,}{text:>10,}"
                f"{whole.estimated_size / whole_text:>11.2f}{whole.estimated_size:>12,}"
                f"{len(fitted.brief_slugs):>9}{len(fitted.online_slugs):>10}"
            )
    print(
        "\nHTML, text: the parts a reader gets under the budget; whole HTML: every brief in "
        "full; HTML/text: both parts with every brief in full.\n"
    )


def bench_variant(case: Case, runs: int) -> tuple[dict[str, float], CompiledVariant]:
    """Median seconds per stage over ``runs`` compilations (after two warm-up runs)."""
    options = VariantOptions(narratives=case.narratives, intro="This week's briefs.")
    variant = compile_variant(DIGEST, options, context(case.tracked))
    compile_variant(DIGEST, options, context(case.tracked))
    samples: dict[str, list[float]] = {stage: [] for stage in STAGES}
    for _ in range(runs):
        variant = compile_variant(DIGEST, options, context(case.tracked))
        for stage in STAGES:
            samples[stage].append(variant.timings[stage])
    return {stage: statistics.median(values) for stage, values in samples.items()}, variant


def per_recipient(variant: CompiledVariant, loops: int = 2_000) -> tuple[float, float]:
    """Median µs to compute one recipient's values, and to fill subject + HTML + text."""
    values = RecipientValues(
        TokenSigner("bench-secret-key-0123456789abcdef"), "https://news.example.org"
    )
    recipient = RecipientInfo("s" * 22, "Maximiliana", view_id="v" * 22, tracking_id="t" * 22)
    filled = values.values_for(variant, recipient)
    variant.fill(filled)  # splits the variant once
    compute = timeit.repeat(lambda: values.values_for(variant, recipient), number=loops, repeat=7)
    fill = timeit.repeat(lambda: variant.fill(filled), number=loops, repeat=7)
    return statistics.median(compute) / loops * 1e6, statistics.median(fill) / loops * 1e6


def find_node_mjml(explicit: Path | None) -> Path | None:
    candidates = [explicit] if explicit else [ROOT / "tests" / ".node", ROOT / "bench" / ".node"]
    for folder in candidates:
        if folder is None:
            continue
        modules = folder if folder.name == "node_modules" else folder / "node_modules"
        if (modules / "mjml" / "package.json").is_file():
            return modules
    return None


def bench_node(modules: Path, mjml: str, runs: int) -> tuple[float, str]:
    """Median ms of the official compiler on ``mjml``, inside one node process."""
    node = shutil.which("node")
    if node is None:
        raise SystemExit("node is not installed")
    result = subprocess.run(
        [node, str(Path(__file__).with_name("mjml_node.js"))],
        input=json.dumps({"mjml": mjml, "runs": runs, "warmup": 5}),
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "NODE_PATH": str(modules)},
    )
    data = json.loads(result.stdout)
    return statistics.median(data["ms"]), f"mjml {data['version']} on node {data['node']}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--node-mjml", type=Path, help="folder holding node_modules/mjml")
    parser.add_argument("--sizes-only", action="store_true", help="print the sizes and stop")
    args = parser.parse_args()

    size_report()
    if args.sizes_only:
        return

    print(
        f"Rendering an 8-brief digest: medians of {args.runs} compilations per variant "
        f"(Python {platform.python_version()}, mjml-python {version('mjml-python')}, "
        f"premailer {version('premailer')}, Jinja2 {version('jinja2')})\n"
    )
    header = f"{'variant':<14}" + "".join(f"{s:>9}" for s in STAGES) + "   HTML filled"
    print(header + "\n" + "-" * len(header))
    results = []
    for case in CASES:
        medians, variant = bench_variant(case, args.runs)
        results.append((case, medians, variant))
        cells = "".join(f"{medians[s] * 1000:>6.2f} ms" for s in STAGES)
        print(f"{case.name:<14}{cells}   {variant.estimated_size / 1000:.1f} KB")
    slowest = max(medians["total"] for _, medians, _ in results)

    tracked = results[-1][2]
    compute_us, fill_us = per_recipient(tracked)
    print(
        f"\nper recipient ('{results[-1][0].name}', {tracked.estimated_size / 1000:.0f} KB, "
        f"{len(tracked.placeholders)} placeholders, "
        f"{tracked.html.count('%%nl_')} in the HTML):"
    )
    print(f"  values (signed URLs, tracking token, name): {compute_us:6.1f} µs")
    print(f"  fill subject + HTML + text:                  {fill_us:6.1f} µs  (target < 20 µs)")

    modules = find_node_mjml(args.node_mjml)
    if modules is None:
        print("\nofficial mjml: not installed (make node-mjml, or --node-mjml DIR): no comparison")
        return
    official_ms, label = bench_node(modules, results[0][2].mjml, args.runs)
    ours_ms = results[0][1]["mjml"] * 1000
    print(f"\nofficial compiler ({label}, in-process, same MJML as 'all'):")
    print(f"  MJML stage alone: {official_ms:.2f} ms median; MRML: {ours_ms:.2f} ms")
    ratio = official_ms / (slowest * 1000)
    print(
        f"  our slowest whole variant ({slowest * 1000:.2f} ms) is {ratio:.1f}× faster than "
        f"the official MJML stage alone; MRML alone {official_ms / ours_ms:.0f}×"
    )
    ok_variant = slowest * 1000 < official_ms
    ok_fill = fill_us < 20
    print(
        f"\ntargets: whole variant < official MJML stage: {'met' if ok_variant else 'MISSED'}; "
        f"fill < 20 µs: {'met' if ok_fill else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
