"""DuckDB reads `billrun reconcile`'s Parquet output with no casts, and it adds up.

For each reconciliation directory given: reconcile.parquet (and trueup.parquet when
written) are read as a BI user would; every money and quantity column must come back
DECIMAL(38,12); the bill's net cost of the usage buckets and of the adjustments must
equal the manifest's totals, and the true-up's shares must add up to both together.

usage: python check_reconcile.py RECON_DIR [RECON_DIR...]
"""

import decimal
import json
import os
import sys

import duckdb

MONEY = ["billrun_quantity", "bill_quantity", "quantity_difference", "billrun_list_cost",
         "bill_list_cost", "list_cost_difference", "bill_unblended_cost", "bill_net_cost"]


def check(out, con):
    problems = []
    with open(os.path.join(out, "manifest.json")) as f:
        totals = json.load(f)["totals"]
    src = f"read_parquet('{os.path.join(out, 'reconcile.parquet')}')"
    types = dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM {src})").fetchall())
    for c in MONEY:
        if types.get(c) != "DECIMAL(38,12)":
            problems.append(f"{out}: reconcile.{c} is {types.get(c)}, not DECIMAL(38,12)")
    for currency, t in totals.items():
        usage, adjustments = con.execute(
            f"SELECT sum(bill_net_cost) FILTER (WHERE status <> 'adjustment'), "
            f"sum(bill_net_cost) FILTER (WHERE status = 'adjustment') FROM {src} WHERE currency = ?",
            [currency]).fetchone()
        for name, got in [("bill_net_cost", usage), ("bill_adjustments_net_cost", adjustments)]:
            if (got or decimal.Decimal(0)) != decimal.Decimal(t[name]):
                problems.append(f"{out}: {currency} {name} {got} in DuckDB, {t[name]} in the manifest")
        trueup = os.path.join(out, "trueup.parquet")
        if os.path.exists(trueup):
            (shared,) = con.execute(
                f"SELECT sum(cost) FROM read_parquet('{trueup}') WHERE currency = ?", [currency]).fetchone()
            billed = decimal.Decimal(t["bill_net_cost"]) + decimal.Decimal(t["bill_adjustments_net_cost"])
            if shared != billed:
                problems.append(f"{out}: true-up shares add up to {shared}, the bill's net cost is {billed}")
    return problems


def main(dirs):
    con = duckdb.connect()
    problems = [p for d in dirs for p in check(d, con)]
    for p in problems:
        print(p)
    if problems:
        raise SystemExit(1)
    print(f"DuckDB read {len(dirs)} reconciliation(s): types and totals agree")


if __name__ == "__main__":
    main(sys.argv[1:])
