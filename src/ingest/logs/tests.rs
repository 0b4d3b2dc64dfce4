use super::*;

pub fn read_all(text: &[u8], batch_rows: usize) -> (Vec<Batch>, usize) {
    let mut batches = Vec::new();
    read_records(text, batch_rows, &mut |b| {
        batches.push(b);
        true
    });
    let rows = batches
        .iter()
        .map(|b| b.frame.height() + b.unreadable.len())
        .sum();
    (batches, rows)
}
