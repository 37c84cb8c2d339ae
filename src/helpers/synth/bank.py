"""Synthetic retail bank with known ground truth (``fishpond synth``).

The generator simulates a Chinese retail bank's existing customers month by month and writes
the canonical tables of ``docs/architecture.md`` §1, a flat GB18030 export (§7) and the ground
truth (§8). Everything random comes from one ``numpy.random.Generator(seed)``; arrays are
vectorised across customers and only the months are looped, so 1M customers x 24 months fits
on a small machine.

How the truth stays recoverable (DESIGN.md §4.1):

- Customers open over the 15 years before the window; only those still active when the
  window opens are kept (left truncation), using the same hazards as in the window.
- Two competing monthly hazards, hard closure and soft AUM run-off, each with a
  complementary log-log link ``h = 1 - exp(-exp(b0(tenure) + b . x))``. Within a month the two
  act as constant competing hazards, so the cause-specific ``b`` are true Cox log hazard ratios.
  Every covariate ``x`` is an observable function of the tables at month ``t-1``
  (:data:`CHURN_COVARIATES` gives the exact definitions, copied into ``truth.json``).
- Product take-up: a logistic monthly hazard per product in the same lagged covariates.
- A randomised retention campaign multiplies both churn hazards over its horizon by an offer-
  and customer-dependent factor; the true uplift is the difference of survival probabilities
  with the hazards accumulated along each customer's simulated path.

Rule for every hazard (``helpers.months.AT_RISK_RULE``, shared with the estimators): a
customer is at risk in month ``t`` when they have a ``monthly_balances`` row at ``t-1`` and no
churn event yet, on the time scale of months on book in month ``t``
(``helpers.months.months_on_book``). Nobody churns or takes a product in the first window
month, and new customers are at risk from the month after they open. The person-month truth
(``truth_person_months.parquet``) records who was at risk and the expected events.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from helpers.config import product_catalogue
from helpers.synth import outputs as outputs
from helpers.synth import tables as tables
from helpers.synth.simulation import BankSimulation

TABLE_FILES = [
    "customers.parquet",
    "monthly_balances.parquet",
    "transactions.parquet",
    "holdings.parquet",
    "contacts.parquet",
    "campaigns.parquet",
    "products.parquet",
    "truth.json",
    "truth_customers.parquet",
    "truth_person_months.parquet",
    "flat/customers_flat.csv",
]


def generate(
    out: str | Path,
    customers: int = 10_000,
    months: int = 24,
    end_month: str = "2026-10",
    seed: int = 20261031,
    transactions: bool = True,
    transactions_per_month: float = 3.0,
) -> dict:
    """Generate the synthetic bank into ``out`` and return its summary.

    Parameters
    ----------
    out : str or Path
        Output folder. Files are written to a temporary folder beside it and moved into place
        one by one, so other files in ``out`` (dataset specs, README) are left alone and no
        half-written table is ever visible.
    customers : int
        Customers in the data: those active when the window opens plus those opening inside it.
    months : int
        Months in the data window.
    end_month : str
        Last month of the window, ``YYYY-MM``.
    seed : int
        Seed of the single ``numpy.random.Generator``; same arguments give identical tables.
    transactions : bool
        Write ``transactions.parquet`` (the balances' ``txn_count`` / ``txn_amount`` are always
        drawn from the same transactions, so they agree whether or not the table is written).
    transactions_per_month : float
        Mean non-salary transactions per active customer-month.

    Returns
    -------
    dict
        Summary: rows per table, churn, tier mix (also stored in ``truth.json["summary"]``).
    """
    if customers < 10:
        raise ValueError(f"customers must be at least 10, not {customers}")
    if months < 2:
        raise ValueError(f"months must be at least 2, not {months}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    settings = {
        "customers": customers,
        "months": months,
        "end_month": end_month,
        "seed": seed,
        "transactions": transactions,
        "transactions_per_month": transactions_per_month,
        "command": (
            f"fishpond synth --customers {customers} --months {months} --end-month {end_month} "
            f"--seed {seed}"
            + ("" if transactions else " --no-transactions")
            + " --out <folder>"  # not the real path: the truth must not depend on where it lives
        ),
    }
    temporary = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        simulation = BankSimulation(customers, months, end_month, seed, transactions_per_month)
        writers: dict[str, tables.TableWriter | None] = {
            "monthly_balances": tables.TableWriter(
                temporary / "monthly_balances.parquet", "monthly_balances", simulation.id_array
            ),
            "contacts": tables.TableWriter(
                temporary / "contacts.parquet", "contacts", simulation.id_array
            ),
            "transactions": (
                tables.TableWriter(
                    temporary / "transactions.parquet", "transactions", simulation.id_array
                )
                if transactions
                else None
            ),
        }
        for t in range(months):
            simulation.step(t, writers)
        rows = {}
        for name, writer in writers.items():
            if writer is not None:
                writer.close()
                rows[name] = writer.rows
        frames = {
            "customers": outputs.customers_frame(simulation),
            "holdings": outputs.holdings_frame(simulation),
            "campaigns": outputs.campaigns_frame(simulation),
        }
        for name, frame in frames.items():
            tables.write_frame(frame, temporary / f"{name}.parquet", name)
            rows[name] = len(frame)
        product_catalogue().to_parquet(temporary / "products.parquet", index=False)
        truth_customers = outputs.truth_customers_frame(simulation)
        truth_customers.to_parquet(temporary / "truth_customers.parquet", index=False)
        outputs.person_months_frame(simulation).to_parquet(
            temporary / "truth_person_months.parquet", index=False
        )
        tables.write_flat_csv(outputs.flat(simulation), temporary / "flat" / "customers_flat.csv")
        summary = outputs.summary(simulation, rows)
        truth = outputs.truth(simulation, settings, summary)
        (temporary / "truth.json").write_text(
            json.dumps(truth, ensure_ascii=False, indent=2), encoding="utf-8"
        )

        (out / "flat").mkdir(parents=True, exist_ok=True)
        if not transactions and (out / "transactions.parquet").exists():
            (out / "transactions.parquet").unlink()  # a stale table would disagree with the rest
        for name in TABLE_FILES:
            if (temporary / name).exists():
                os.replace(temporary / name, out / name)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    return summary


def cli_synth(args) -> int:
    """``fishpond synth``: generate, then print rows per table, churn rate and tier mix."""
    started = time.perf_counter()
    summary = generate(
        out=args.out,
        customers=args.customers,
        months=args.months,
        end_month=args.end_month,
        seed=args.seed,
        transactions=not args.no_transactions,
    )
    print(f"Synthetic bank written to {args.out} in {time.perf_counter() - started:.1f} s")
    for table, count in summary["rows"].items():
        print(f"  {table:<18} {count:>12,} rows")
    events = summary["churn_events"]
    print(
        f"  churn: {events['hard']:,} hard, {events['soft']:,} soft; "
        f"annualised rate {summary['churn_rate_annualised']:.1%}"
    )
    print(f"  left-truncated (opened before the window): {summary['left_truncated_share']:.1%}")
    mix = ", ".join(f"{tier} {share:.1%}" for tier, share in summary["tier_mix_end"].items())
    print(f"  tier mix at the last month: {mix}")
    return 0
