"""A large CUR 2.0 Parquet bill for the reconcile benchmark: the rows of
fixtures/bills/cur2.parquet repeated ROWS/25 times over 30 days and 100 accounts
(Data Exports' types: DOUBLE amounts, MAP product), in 122,880-row groups.

usage: gen_cur.py ROWS OUT.parquet
"""
import sys

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

rows, out = int(sys.argv[1]), sys.argv[2]
base = pq.read_table(sys.argv[3] if len(sys.argv) > 3 else "fixtures/bills/cur2.parquet")
copies = -(-rows // base.num_rows)
parts = []
for c in range(copies):
    t = base
    day = pa.scalar(c % 30 * 86_400_000, pa.duration("ms"))
    start = pc.add(t["line_item_usage_start_date"], day)
    t = t.set_column(t.schema.get_field_index("line_item_usage_start_date"), "line_item_usage_start_date", start)
    account = pa.array([f"{100000000000 + c % 100}"] * t.num_rows)
    t = t.set_column(t.schema.get_field_index("line_item_usage_account_id"), "line_item_usage_account_id", account)
    parts.append(t)
pq.write_table(pa.concat_tables(parts), out, row_group_size=122_880)
