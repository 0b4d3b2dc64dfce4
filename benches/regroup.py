"""Rewrites a Parquet file with row groups of ROWS rows, as pyarrow or Spark would
write it, streaming (memory holds about one row group): regroup.py IN OUT ROWS."""
import sys

import pyarrow as pa
import pyarrow.parquet as pq

src, dst, rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
reader = pq.ParquetFile(src)
with pq.ParquetWriter(dst, reader.schema_arrow) as writer:
    pending, held = [], 0
    for batch in reader.iter_batches(batch_size=65536):
        pending.append(batch)
        held += batch.num_rows
        if held >= rows:
            table = pa.Table.from_batches(pending)
            writer.write_table(table.slice(0, rows), row_group_size=rows)
            rest = table.slice(rows)
            pending, held = rest.to_batches(), rest.num_rows
    if held:
        writer.write_table(pa.Table.from_batches(pending, reader.schema_arrow), row_group_size=rows)
