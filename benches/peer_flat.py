"""The fair peer for `make bench-peer`: the query a competent analyst writes.

The price table is small, so it is flattened first (in Python, once): every catalog
row expanded to exact keys (wildcard models and regions to the catalog's own models
and regions, an empty scope to each of in_region/geo/global, an empty image quality to
each quality), cut into epochs between price boundaries, image buckets as pixel
ranges (the smallest bucket that holds an image), and for every key and epoch the most
specific row kept (billrun's order: model, region, scope, smallest bucket, quality).
Then one DuckDB query equi-joins usage to it on (model, region, scope, mode, tier,
usage type) with the timestamp in the epoch, multiplies as DECIMAL and groups by
model, mode, region and usage type.

usage: python peer_flat.py dedup|nodedup|floor USAGE.parquet CATALOG.csv
  dedup    exact dedup by request_id first (QUALIFY row_number() ... = 1), as billrun
  nodedup  the same without dedup
  floor    read every column billrun reads, including request_id, and reduce trivially
Prints the exact total (or the floor's checksum) and the summary row count.
"""
import csv
import sys
from decimal import Decimal

import duckdb

from peer import RESOLVE

SCOPES = ["in_region", "geo", "global"]
QUALITIES = ["standard", "premium"]
BIG = 2**62


def flatten(path):
    rows = list(csv.DictReader(open(path)))
    models = sorted({r["model_id"] for r in rows if r["model_id"] != "*"})
    regions = sorted({r["region"] for r in rows if r["region"] != "*"})
    cuts = sorted({r[c] for r in rows for c in ("effective_from", "effective_to") if r[c]})
    epochs = list(zip([""] + cuts, cuts + [""]))
    best = {}
    for r in rows:
        if r["mode"] not in ("on_demand", "batch"):
            continue  # capacity meters are not usage rows
        unit_micro = Decimal(r["price"]) * (1_000_000 // int(r["per"]))
        for model in ([r["model_id"]] if r["model_id"] != "*" else models):
            for region in ([r["region"]] if r["region"] != "*" else regions):
                for scope in ([r["scope"]] if r["scope"] else SCOPES):
                    for quality in ([r["image_quality"]] if r["image_quality"] else
                                    (QUALITIES if r["usage_type"] == "images" else [""])):
                        for t0, t1 in epochs:
                            inside = ((not r["effective_from"] or (t0 and t0 >= r["effective_from"]))
                                      and (not r["effective_to"] or (t1 and t1 <= r["effective_to"])))
                            if not inside:
                                continue
                            maxpx = int(r["image_max_pixels"]) if r["image_max_pixels"] else BIG
                            key = (model, region, scope, r["mode"],
                                   r["service_tier"] or "standard", r["usage_type"], t0, t1,
                                   quality, maxpx)
                            rank = (r["model_id"] != "*", r["region"] != "*", r["scope"] != "",
                                    r["image_quality"] != "")
                            if key not in best or rank > best[key][0]:
                                best[key] = (rank, unit_micro)
    # Image buckets as (lo, hi]: per key without the bucket, sorted by size.
    flat, by_key = [], {}
    for key, (_, unit) in best.items():
        by_key.setdefault(key[:9], []).append((key[9], unit))
    for key, buckets in by_key.items():
        lo = -1  # rows without images have 0 pixels
        for maxpx, unit in sorted(buckets):
            flat.append(key + (lo, maxpx, str(unit)))
            lo = maxpx
    return flat


QUERY = """
with u as (
  select *, row_number() over () as rid,""" + RESOLVE + """,
    coalesce(nullif(service_tier, ''), 'standard') as tier,
    coalesce(image_width * image_height, 0) as pixels
  from read_parquet($usage, file_row_number = true) {dedup}),
m as (
  select * from (unpivot u on input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, images
                 into name usage_type value qty) where qty > 0),
j as (
  select m.base, m.mode, m.region, m.usage_type, m.qty, f.unit_micro
  from m join flat f
    on f.model = m.base and f.region = m.region and f.scope = m.scope and f.mode = m.mode
   and f.tier = m.tier and f.usage_type = m.usage_type
   and (f.t0 is null or m.timestamp >= f.t0) and (f.t1 is null or m.timestamp < f.t1)
   and f.quality = (case when m.usage_type = 'images' then m.image_quality else '' end)
   and m.pixels > f.lo and m.pixels <= f.hi),
s as (
  select base as model_id, mode, region, usage_type, sum(qty) as quantity,
         sum(qty * unit_micro) * 0.000001::decimal(7,6) as cost
  from j group by all)
select sum(cost) as total, count(*) as summary_rows from s
"""

# First copy wins, in file order; rows without an id are never duplicates.
DEDUP = ("qualify request_id is null or "
         "row_number() over (partition by request_id order by file_row_number) = 1")

FLOOR = """
select count(*) + sum(length(request_id)) + sum(length(model_id)) + sum(length(region))
  + count(mode) + count(service_tier) + count(account_id) + count(principal) + count(tags)
  + count(image_quality) + sum(epoch_us(timestamp) % 7) + sum(input_tokens)
  + sum(output_tokens) + sum(cache_read_tokens) + sum(cache_write_tokens) + sum(images)
  + sum(image_width) + sum(image_height), 0
from read_parquet($usage)
"""


def main(kind, usage, catalog):
    con = duckdb.connect()
    if kind == "floor":
        total, rows = con.execute(FLOOR, {"usage": usage}).fetchone()
        print(f"{total} {rows}")
        return
    con.execute("""create table flat (model varchar, region varchar, scope varchar,
        mode varchar, tier varchar, usage_type varchar, t0 timestamptz, t1 timestamptz,
        quality varchar, lo bigint, hi bigint, unit_micro decimal(38, 12))""")
    rows = [r[:6] + (r[6] or None, r[7] or None) + r[8:] for r in flatten(catalog)]
    con.executemany("insert into flat values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    query = QUERY.replace("{dedup}", DEDUP if kind == "dedup" else "")
    total, rows = con.execute(query, {"usage": usage}).fetchone()
    print(f"{total:.12f} {rows}")


if __name__ == "__main__":
    main(*sys.argv[1:4])
