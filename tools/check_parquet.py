"""DuckDB reads billrun's Parquet reports with no casts and gets the manifest's totals.

For each report directory given: summary, line items (when written) and FOCUS
(when written) are read with DuckDB exactly as a BI user would (partitioned
reports through hive_partitioning); money must come back DECIMAL(38,12), and the
cost totals must equal the manifest's to the last digit. For FOCUS also:
ListCost = ListUnitPrice x PricingQuantity exactly on whole-unit rows, and
BilledCost = EffectiveCost = ContractedCost on usage not covered by a commitment.

usage: python check_parquet.py OUT_DIR [OUT_DIR...]
"""

import decimal
import glob
import json
import os
import sys

import duckdb


def table_source(out, name):
    """A read_parquet(...) expression for report `name`, or None if absent."""
    single = os.path.join(out, f"{name}.parquet")
    if os.path.exists(single):
        return f"read_parquet('{single}')"
    parts = os.path.join(out, name)
    if glob.glob(os.path.join(parts, "*", "*.parquet")):
        return f"read_parquet('{parts}/*/*.parquet', hive_partitioning = true)"
    return None


def manifests(out):
    single = os.path.join(out, "manifest.json")
    if os.path.exists(single):
        return [single]
    return sorted(glob.glob(os.path.join(out, "_runs", "*", "manifest.json")))


def check(out, con):
    problems = []
    total = decimal.Decimal(0)
    for path in manifests(out):
        with open(path) as f:
            total += sum(decimal.Decimal(v) for v in json.load(f)["totals"].values())
    checks = [("summary", "cost"), ("line_items", "cost"), ("focus", "BilledCost"), ("focus", "EffectiveCost")]
    for name, column in checks:
        src = table_source(out, name)
        if src is None:
            continue
        kind = con.sql(f"SELECT typeof({column}) FROM {src} LIMIT 1").fetchone()
        if kind is not None and kind[0] != "DECIMAL(38,12)":
            problems.append(f"{name}.{column} is {kind[0]}, not DECIMAL(38,12)")
        got = con.sql(f"SELECT coalesce(sum({column}), 0) FROM {src}").fetchone()[0]
        if decimal.Decimal(got) != total:
            problems.append(f"{name}: sum({column}) = {got}, manifest total = {total}")
        else:
            print(f"  {name}: sum({column}) = {got} = manifest")
    src = table_source(out, "focus")
    if src is not None:
        bad = con.sql(f"""
            SELECT count(*) FROM {src}
            WHERE x_UsageType NOT IN ('cmu_storage_months', 'model_storage_months')
              AND NOT (x_UsageType = 'mu_hours' AND PricingQuantity <> round(PricingQuantity))
              AND ListUnitPrice * PricingQuantity <> ListCost""").fetchone()[0]
        if bad:
            problems.append(f"focus: {bad} whole-unit rows with ListUnitPrice x PricingQuantity <> ListCost")
        bad = con.sql(f"""
            SELECT count(*) FROM {src}
            WHERE ChargeCategory = 'Usage' AND CommitmentDiscountId IS NULL
              AND NOT (BilledCost = EffectiveCost AND EffectiveCost = ContractedCost
                       AND ContractedCost = ListCost)""").fetchone()[0]
        if bad:
            problems.append(f"focus: {bad} usage rows where Billed, Effective, Contracted, List costs differ")
    return problems


def main(dirs):
    con = duckdb.connect()
    failed = False
    for out in dirs:
        print(f"== DuckDB on {out}")
        problems = check(out, con)
        for p in problems:
            print(f"  PROBLEM: {p}")
        failed |= bool(problems)
    print("PARQUET CHECK FAILED" if failed else "PARQUET CHECK PASSED")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
