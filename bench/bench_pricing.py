"""Benchmark: the pure pricing engine, as a billing run uses it.

    .venv/bin/python bench/bench_pricing.py [--inputs 1000000] [--distinct 200000]

Prices the issue's example-electricity tariff (three inclining blocks, a fixed charge, VAT)
with `compile_tariff(tariff).price_many(inputs)`:

1. `--inputs` accounts whose consumptions are whole kWh drawn from 0..1200, as a city's
   accounts mostly are: the Pricer remembers each distinct case, so this measures the lookup
   path (target: 1,000,000 in 1.5 s or less);
2. `--distinct` accounts with distinct consumptions of three decimals (0.000..1200.000):
   every input is priced afresh, so this measures the engine itself;
3. for reference, `price(tariff, inp)` one by one on a sample (no memory).

Building the inputs is not timed (a billing run reads them from the database); each input
gets its own Decimal, as rows read from a database do. Every figure is checked against
`price` on a sample. The machine's CPUs and load are printed first: the figures are
single-core, CPU-bound, and mean little on a busy machine.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import random
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from civicdesk.tariffs.definition import load_tariffs_text  # noqa: E402
from civicdesk.tariffs.engine import PricingInput, compile_tariff, price  # noqa: E402

EXAMPLE = ROOT / "civicdesk" / "tariffs" / "examples" / "example-electricity.yaml"
PERIOD = (2025, 8)
TARGET_SECONDS = 1.5


def timed(function, *args):
    """The result, the wall-clock seconds and this process's CPU seconds (the second is the
    fairer figure when other work shares the machine)."""
    started, cpu = time.perf_counter(), time.process_time()
    result = function(*args)
    return result, time.perf_counter() - started, time.process_time() - cpu


def check(tariff, inputs, quotes, samples: int = 500) -> None:
    """A sample of the quotes equals what `price` gives for the same input."""
    rng = random.Random(7)
    for index in rng.sample(range(len(inputs)), min(samples, len(inputs))):
        assert quotes[index] == price(tariff, inputs[index]), index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=1_000_000)
    parser.add_argument("--distinct", type=int, default=200_000)
    args = parser.parse_args()

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"pricing benchmark: Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"load {load:.2f}; one process, one core"
    )
    (tariff,) = load_tariffs_text(EXAMPLE.read_text(encoding="utf-8"))
    rng = random.Random(2025)

    whole = [
        PricingInput(consumption=Decimal(rng.randint(0, 1200)), period=PERIOD)
        for _ in range(args.inputs)
    ]
    pricer = compile_tariff(tariff)
    quotes, seconds, cpu = timed(pricer.price_many, whole)
    check(tariff, whole, quotes)
    verdict = "met" if seconds * 1_000_000 / args.inputs <= TARGET_SECONDS else "MISSED"
    print(
        f"{args.inputs:>9,} inputs, whole kWh 0..1200:   {seconds:6.2f} s ({cpu:5.2f} s CPU)  "
        f"{args.inputs / seconds:>10,.0f} quotes/s  ({pricer.misses:,} priced, "
        f"{pricer.hits:,} remembered; target ≤ {TARGET_SECONDS} s per 1,000,000: {verdict})"
    )

    del whole, quotes, pricer  # what is kept alive, the collector scans in later runs
    gc.collect()

    thousandths = rng.sample(range(0, 1_200_001), args.distinct)
    distinct = [PricingInput(consumption=Decimal(n).scaleb(-3), period=PERIOD) for n in thousandths]
    pricer = compile_tariff(tariff, cache_size=args.distinct)
    quotes, seconds, cpu = timed(pricer.price_many, distinct)
    check(tariff, distinct, quotes)
    print(
        f"{args.distinct:>9,} inputs, distinct 0.001 kWh: {seconds:6.2f} s ({cpu:5.2f} s CPU)  "
        f"{args.distinct / seconds:>10,.0f} quotes/s  ({pricer.misses:,} priced)"
    )

    sample = distinct[:20_000]
    del distinct, quotes, pricer
    gc.collect()
    _, seconds, cpu = timed(lambda: [price(tariff, inp) for inp in sample])
    print(
        f"{len(sample):>9,} inputs, price() one by one:  {seconds:6.2f} s ({cpu:5.2f} s CPU)  "
        f"{len(sample) / seconds:>10,.0f} quotes/s  (no memory: the engine alone)"
    )


if __name__ == "__main__":
    main()
