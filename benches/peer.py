"""The peer for `make bench-peer`: billrun's default job as one DuckDB SQL query.

Resolves the profile prefix to base model + scope, unpivots the meters, joins the
catalog on its keys with the effective-date window and image bucket, keeps the most
specific row (billrun's order: model, region, scope, smallest bucket, quality),
multiplies as DECIMAL and groups by model, mode, region and usage type. Exact: the
price is scaled by 1,000,000/per and the sum multiplied by 0.000001 as a DECIMAL
(DuckDB's DECIMAL / INTEGER would be a DOUBLE).

Usage: python peer.py USAGE.parquet CATALOG.csv  → prints the exact total;
       python peer.py --logs 'DIR/**/*.json.gz' CATALOG.csv for invocation logs
       (DuckDB's read_json; the same tier and image fields billrun reads).
"""
import sys
import duckdb

# Invocation logs as canonical rows: what billrun's log reader derives, in SQL.
LOGS = """(
  select timestamp, region, modelId as model_id, 'on_demand' as mode,
    requestId as request_id, accountId as account_id, identity.arn as principal,
    cast(requestMetadata as varchar) as tags,
    coalesce(input.inputBodyJson->>'serviceTier', 'standard') as service_tier,
    input.inputTokenCount as input_tokens, output.outputTokenCount as output_tokens,
    input.cacheReadInputTokenCount as cache_read_tokens,
    input.cacheWriteInputTokenCount as cache_write_tokens,
    cast(input.inputBodyJson->'imageGenerationConfig'->>'numberOfImages' as bigint) as images,
    cast(input.inputBodyJson->'imageGenerationConfig'->>'width' as bigint) as image_width,
    cast(input.inputBodyJson->'imageGenerationConfig'->>'height' as bigint) as image_height,
    input.inputBodyJson->'imageGenerationConfig'->>'quality' as image_quality
  from read_json($usage, format = 'newline_delimited', compression = 'gzip',
    columns = {timestamp: 'TIMESTAMPTZ', region: 'VARCHAR', modelId: 'VARCHAR',
      requestId: 'VARCHAR', accountId: 'VARCHAR', identity: 'STRUCT(arn VARCHAR)',
      requestMetadata: 'JSON',
      input: 'STRUCT(inputTokenCount BIGINT, cacheReadInputTokenCount BIGINT,
                     cacheWriteInputTokenCount BIGINT, inputBodyJson JSON)',
      output: 'STRUCT(outputTokenCount BIGINT)'}))"""

# A model id's base model and scope, from its inference-profile prefix (both peers).
RESOLVE = """
    regexp_replace(model_id, '^(us|eu|apac|jp|au|us-gov|global)\\.', '') as base,
    case when model_id like 'global.%' then 'global'
         when regexp_matches(model_id, '^(us|eu|apac|jp|au|us-gov)\\.') then 'geo'
         else 'in_region' end as scope"""

QUERY = """
with u as (
  select *, row_number() over () as rid,""" + RESOLVE + """
  from {source}),
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
  select rid, base, mode, region, usage_type, qty, unit_micro, timestamp, request_id,
    account_id, principal, model_id, scope, service_tier, tags,
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

# With --line-items OUT: one row per priced meter, written to Parquet, instead of
# the summary (the job `billrun run --line-items` does besides its summary).
LINE_ITEMS = """
select rid as row, request_id, timestamp, account_id, principal, base as model_id,
  model_id as requested_model_id, scope, region, mode, service_tier, usage_type,
  qty as quantity, unit_micro * 0.000001::decimal(7,6) as unit_price,
  qty * unit_micro * 0.000001::decimal(7,6) as cost, tags
from j where pick = 1
"""

if __name__ == "__main__":
    # peer.py USAGE.parquet CATALOG.csv, or peer.py --logs 'DIR/**/*.json.gz' CATALOG.csv
    args = sys.argv[1:]
    line_items = None
    if args[0] == "--line-items":
        line_items, args = args[1], args[2:]
    logs = args[0] == "--logs"
    usage, catalog = args[logs], args[1 + logs]
    source = LOGS if logs else "read_parquet($usage)"
    con = duckdb.connect()
    query = QUERY.replace("{source}", source)
    if line_items:
        body = query[: query.rindex("s as (")].rstrip().rstrip(",")
        copy = f"copy ({body} {LINE_ITEMS}) to '{line_items}' (format parquet)"
        con.execute(copy, {"usage": usage, "catalog": catalog})
        total, rows = con.execute(f"select sum(cost), count(*) from '{line_items}'").fetchone()
        print(f"{total:.12f} {rows}")
    else:
        total, rows = con.execute(query, {"usage": usage, "catalog": catalog}).fetchone()
        print(f"{total:.12f} {rows}")
