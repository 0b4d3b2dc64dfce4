"""The peer for `make bench-peer`: billrun's default job as one DuckDB SQL query.

Resolves the profile prefix to base model + scope, unpivots the meters, joins the
catalog on its keys with the effective-date window and image bucket, keeps the most
specific row (billrun's order: model, region, scope, smallest bucket, quality),
multiplies as DECIMAL and groups by model, mode, region and usage type. Exact: the
price is scaled by 1,000,000/per and the sum multiplied by 0.000001 as a DECIMAL
(DuckDB's DECIMAL / INTEGER would be a DOUBLE).

Usage: python peer.py USAGE.parquet CATALOG.csv  → prints the exact total.
"""
import sys
import duckdb

QUERY = """
with u as (
  select *, row_number() over () as rid,
    regexp_replace(model_id, '^(us|eu|apac|jp|au|us-gov|global)\\.', '') as base,
    case when model_id like 'global.%' then 'global'
         when regexp_matches(model_id, '^(us|eu|apac|jp|au|us-gov)\\.') then 'geo'
         else 'in_region' end as scope
  from read_parquet($usage)),
m as (
  select * from (unpivot u on input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, images
                 into name usage_type value qty) where qty > 0),
c as (
  select *, cast(price as decimal(38,12)) * (1000000 // cast(per as bigint)) as unit_micro,
         try_cast(nullif(image_max_pixels, '') as bigint) as maxpx,
         try_cast(nullif(effective_from, '') as timestamptz) as t0,
         try_cast(nullif(effective_to, '') as timestamptz) as t1
  from read_csv($catalog, all_varchar = true)),
k as (
  -- exact-model rows and wildcard-model rows joined separately: each an equi-join
  select m.*, c.* exclude (mode, usage_type, region, scope, image_quality, model_id, service_tier),
         c.model_id as c_model, c.region as c_region, c.scope as c_scope, c.image_quality as c_quality,
         c.service_tier as c_tier
  from m join c on c.model_id = m.base and c.mode = m.mode and c.usage_type = m.usage_type
  union all
  select m.*, c.* exclude (mode, usage_type, region, scope, image_quality, model_id, service_tier),
         c.model_id, c.region, c.scope, c.image_quality, c.service_tier
  from m join c on c.model_id = '*' and c.mode = m.mode and c.usage_type = m.usage_type),
j as (
  select rid, base, mode, region, usage_type, qty, unit_micro,
    row_number() over (partition by rid, usage_type order by
      (c_model <> '*') desc, (c_region <> '*') desc, (coalesce(c_scope, '') <> '') desc,
      coalesce(maxpx, 9223372036854775807) asc, (coalesce(c_quality, '') <> '') desc) as pick
  from k
  where coalesce(nullif(c_tier, ''), 'standard') = service_tier
    and (c_region = '*' or c_region = region)
    and (coalesce(c_scope, '') = '' or c_scope = scope)
    and (t0 is null or timestamp >= t0) and (t1 is null or timestamp < t1)
    and (usage_type <> 'images' or ((coalesce(c_quality, '') = '' or c_quality = image_quality)
         and (maxpx is null or maxpx >= image_width * image_height)))),
s as (
  select base as model_id, mode, region, usage_type, sum(qty) as quantity,
         sum(qty * unit_micro) * 0.000001::decimal(7,6) as cost
  from j where pick = 1 group by all)
select sum(cost) as total, count(*) as summary_rows from s
"""

if __name__ == "__main__":
    con = duckdb.connect()
    total, rows = con.execute(QUERY, {"usage": sys.argv[1], "catalog": sys.argv[2]}).fetchone()
    print(f"{total:.12f} {rows}")
