"""Builds src/catalog/default_prices.csv, the embedded catalog, from its sources.

Run by `make catalog` (which fetches the pinned inputs); never edit the output by hand.

Sources, in order of precedence for a meter they both price:
1. AWS's Price List: the catalog `billrun prices import` makes of the real excerpt in
   fixtures/pricelist/ (us-east-1, publication 2026-09-11). Its rows start at each
   term's effectiveDate. Where a curated row prices the same meter at the same price,
   the curated row (open start) stands and the agreement is noted; at another price,
   the curated row is closed at the AWS effective date and the AWS row follows.
2. tools/catalog/curated.csv: reviewed rows copied from public AWS pages through
   ../shared/reference/bedrock-billing.md, each with its source.
3. The price map shipped in the litellm package (LITELLM_VERSION below, the wheel's
   litellm/model_prices_and_context_window_backup.json): only for models neither of
   the above prices. Its per-token floats become their exact shortest decimal
   (repr, then Decimal), written per 1M tokens. Keys map to regions only where the key
   says so: `bedrock/<region>/<id>` is that region; a plain `<id>` is the US list
   price (us-east-1, us-west-2; where both it and the reference price a model, they
   agree); `us.<id>` is the geo price from those US regions, `global.<id>` the
   global price there. `eu.`, `apac.`, `jp.`, `au.` keys name no source region and
   are not used. Where litellm prices a model the first two sources also price,
   every difference is listed in docs/catalog-sources.md.

usage: python3 build_default.py CURATED.csv AWS_IMPORTED.csv LITELLM.json OUT.csv SOURCES.md
"""

import csv
import io
import json
import sys
from decimal import Decimal

LITELLM_VERSION = "1.110.2"
COLUMNS = ["model_id", "region", "mode", "usage_type", "price", "per", "currency", "scope",
           "service_tier", "commitment", "cmu_version", "image_quality", "image_max_pixels",
           "effective_from", "effective_to", "source", "offer", "offer_version", "sku",
           "rate_code", "aws_usage_type", "aws_model"]
US = ["us-east-1", "us-west-2"]
GEO_PREFIXES = ("eu.", "apac.", "jp.", "au.", "us-gov.")
METERS = [("input_cost_per_token", "on_demand", "input_tokens"),
          ("output_cost_per_token", "on_demand", "output_tokens"),
          ("cache_read_input_token_cost", "on_demand", "cache_read_tokens"),
          ("cache_creation_input_token_cost", "on_demand", "cache_write_tokens"),
          ("input_cost_per_token_batches", "batch", "input_tokens"),
          ("output_cost_per_token_batches", "batch", "output_tokens")]


def read_rows(path):
    with open(path, newline="") as f:
        return [{c: r.get(c, "") or "" for c in COLUMNS} for r in csv.DictReader(f)]


def meter(r):
    """What competes in the catalog: every dimension but price and window."""
    return tuple(r[c] for c in ["model_id", "region", "mode", "usage_type", "scope",
                                "service_tier", "commitment", "cmu_version",
                                "image_quality", "image_max_pixels"])


def unit_price(r):
    return Decimal(r["price"]) / Decimal(r["per"])


def merge_aws(curated, aws, notes):
    by_meter = {meter(r): r for r in curated}
    out = list(curated)
    for a in aws:
        c = by_meter.get(meter(a))
        if c is None:
            out.append(a)
        elif unit_price(c) == unit_price(a):
            notes.append(f"| {a['model_id']} | {a['region']} | {a['usage_type']} {a['mode']} "
                         f"{a['service_tier']} | agrees with the Price List ({a['sku']}) |")
        else:
            c["effective_to"] = a["effective_from"]
            out.append(a)
            notes.append(f"| {a['model_id']} | {a['region']} | {a['usage_type']} | curated "
                         f"{unit_price(c)} per unit until {a['effective_from']}, Price List "
                         f"{unit_price(a)} from then ({a['sku']}) |")
    return out


def exact(value):
    """A litellm float as the exact shortest decimal it was written as, per 1M."""
    d = Decimal(repr(value)) * 1_000_000
    text = format(d.normalize(), "f")
    return text


def litellm_keys(prices):
    """(key, entry, model id, regions, scope, priority) of each Bedrock key, where the
    key names them. Priority (lower wins for one meter): an explicit region, then a
    `us.` or `global.` key, then a plain key."""
    entries = {k: v for k, v in prices.items() if isinstance(v, dict)
               and v.get("litellm_provider") in ("bedrock", "bedrock_converse")
               and v.get("mode") in ("chat", "embedding", "completion")}
    has_geo = {k[3:] for k in entries if k.startswith("us.")}
    for key, entry in sorted(entries.items()):
        parts = key.split("/")
        if len(parts) == 3 and parts[0] == "bedrock" and parts[1] not in ("*", "invoke"):
            region, model = parts[1], parts[2]
            if "claude_platform" in region or "." not in model:
                continue
            if model.startswith(("us.", "global.") + GEO_PREFIXES):
                continue
            yield key, entry, model, [region], "", 0
        elif len(parts) == 1 and "." in key:
            if key.startswith(GEO_PREFIXES):
                continue
            if key.startswith("us."):
                # In-region calls cost what geo calls do (the reference): this price
                # covers both; only global differs.
                yield key, entry, key[3:], US, "", 1
            elif key.startswith("global."):
                yield key, entry, key[7:], US, "global", 1
            elif key not in has_geo:
                yield key, entry, key, US, "", 2
            # else: for models with a us. key, litellm's plain key carries the global
            # price (Claude Haiku 4.5: 0.000001 vs in-region 0.0000011), not used.


def litellm_rows(prices, known_models, notes, reference):
    rows = []
    for key, entry, model, regions, scope, priority in litellm_keys(prices):
        for field, mode, usage in METERS:
            value = entry.get(field)
            # Only AWS or a curated row may say a meter is free: litellm zeros are not
            # trusted (embeddings list output at 0; some entries are zero by mistake).
            if not isinstance(value, (int, float)) or value <= 0:
                continue
            for region in regions:
                row = {c: "" for c in COLUMNS}
                row.update(model_id=model, region=region, mode=mode, usage_type=usage,
                           price=exact(value), per="1000000", currency="USD", scope=scope,
                           source=f"litellm {LITELLM_VERSION} price map, key {key}")
                if model in known_models:
                    compare(row, reference, notes)
                else:
                    rows.append((priority, row))
    rows.sort(key=lambda pr: pr[0])
    return [r for _, r in rows]


def compare(row, reference, notes):
    """Lists a litellm price that differs from the curated or AWS one for the meter."""
    candidates = [r for r in reference
                  if (r["model_id"], r["region"], r["mode"], r["usage_type"]) ==
                  (row["model_id"], row["region"], row["mode"], row["usage_type"])
                  and r["service_tier"] == "" and not r["effective_to"]
                  and r["scope"] in ("", row["scope"])]
    if not candidates:
        return
    best = max(candidates, key=lambda r: r["scope"] == row["scope"])
    if unit_price(best) != unit_price(row):
        notes.append(f"| {row['model_id']} | {row['region']} | {row['usage_type']} {row['mode']} "
                     f"{row['scope'] or 'any scope'} | litellm {unit_price(row)} per token "
                     f"({row['source'].split('key ')[1]}), kept {unit_price(best)} "
                     f"({best['source'][:60]}) |")


def pt_rows(prices, notes, reference):
    """Provisioned Throughput: `bedrock/<region>/<1|6>-month-commitment/<model>` keys
    price a model unit per second (a float): × 3600 per MU-hour. `*` is any region.
    Rows only where no curated or AWS row prices that model's MU-hours in that region."""
    rows = []
    priced = {(r["model_id"], r["region"], r["commitment"]) for r in reference
              if r["usage_type"] == "mu_hours"}
    for key, entry in sorted(prices.items()):
        parts = key.split("/")
        if len(parts) != 4 or parts[0] != "bedrock" or not parts[2].endswith("-commitment"):
            continue
        region, term, model = parts[1], parts[2][: -len("-commitment")], parts[3]
        value = entry.get("input_cost_per_second") if isinstance(entry, dict) else None
        if term not in ("1-month", "6-month") or not isinstance(value, (int, float)) or value <= 0:
            continue
        hourly = format((Decimal(repr(value)) * 3600).normalize(), "f")
        regions = US if region == "*" else [region]
        for reg in regions:
            known = [r for r in reference if (r["model_id"], r["region"], r["commitment"],
                                              r["usage_type"]) == (model, reg, term, "mu_hours")]
            if known:
                if Decimal(known[0]["price"]) != Decimal(hourly):
                    notes.append(f"| {model} | {reg} | mu_hours {term} | litellm {hourly} per "
                                 f"hour ({key}, per second × 3600), kept {known[0]['price']} "
                                 f"({known[0]['source'][:60]}) |")
                continue
            if (model, reg, term) in priced:
                continue
            row = {c: "" for c in COLUMNS}
            row.update(model_id=model, region=reg, mode="provisioned", usage_type="mu_hours",
                       price=hourly, per="1", currency="USD", commitment=term,
                       source=f"litellm {LITELLM_VERSION} price map, key {key} (per second × 3600)")
            rows.append(row)
    return rows


def drop_shadowed(rows):
    """One row per meter and window: litellm keys can repeat a meter (bedrock/us-east-1/x
    and plain x); the first, in key order, stands."""
    seen, out = set(), []
    for r in rows:
        k = meter(r) + (r["effective_from"],)
        if k not in seen:
            seen.add(k)
            out.append(r)
    return out


def main(curated_path, aws_path, litellm_path, out_path, sources_path):
    curated = read_rows(curated_path)
    aws = read_rows(aws_path)
    notes_aws, notes_litellm = [], []
    merged = merge_aws(curated, aws, notes_aws)
    known = {r["model_id"] for r in merged}
    prices = json.load(open(litellm_path))
    added = drop_shadowed(litellm_rows(prices, known, notes_litellm, merged)
                          + pt_rows(prices, notes_litellm, merged))
    rows = merged + sorted(added, key=lambda r: (r["model_id"], r["region"], r["scope"],
                                                  r["mode"], r["usage_type"]))
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    open(out_path, "w").write(out.getvalue())
    models = {r["model_id"] for r in rows if r["model_id"] != "*"}
    regions = {r["region"] for r in rows if r["region"] != "*"}
    with open(sources_path, "w") as f:
        f.write("# Where the embedded catalog's prices come from\n\n")
        f.write("Generated by `tools/catalog/build_default.py` (`make catalog`); do not edit.\n\n")
        f.write(f"{len(rows)} rows: {len(curated)} curated (tools/catalog/curated.csv), "
                f"{len(rows) - len(curated) - len(added)} from the AWS Price List excerpt, "
                f"{len(added)} from litellm {LITELLM_VERSION}; {len(models)} models, "
                f"{len(regions)} regions.\n\n")
        f.write("## The AWS Price List against the curated rows\n\n| model | region | meter | "
                "what |\n|---|---|---|---|\n")
        f.write("\n".join(notes_aws) + "\n\n")
        f.write(f"## litellm {LITELLM_VERSION} against the curated and AWS rows (kept: "
                "curated or AWS)\n\n| model | region | meter | what |\n|---|---|---|---|\n")
        f.write("\n".join(sorted(set(notes_litellm))) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:6])
