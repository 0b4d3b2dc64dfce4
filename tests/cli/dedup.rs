//! Duplicates found on disk — in one pass whose repeated rows are taken back after,
//! or in two with line items — give the reports duplicates found in memory give.

use super::stages::{Rows, files, run, strings, write_inputs};
use super::{fixture, stderr};
use proptest::prelude::*;
use std::path::Path;

/// Runs `billrun run INPUTS --out <dir>/<name> FLAGS --dedup <dedup>`; its exit code.
fn run_with(
    inputs: &[String],
    dir: &Path,
    name: &str,
    dedup: &str,
    flags: &[String],
) -> Option<i32> {
    let out = dir.join(name).display().to_string();
    let o = run(&[
        strings(&["run"]),
        inputs.to_vec(),
        strings(&["--out", &out, "--quiet", "--dedup", dedup]),
        flags.to_vec(),
    ]
    .concat());
    assert!(o.status.code().is_some_and(|c| c < 2), "{}", stderr(&o));
    o.status.code()
}

/// The reports of two runs, the same but for the manifest's dedup option.
fn assert_same_reports(a: &Path, b: &Path) {
    let strip = |files: std::collections::BTreeMap<String, Vec<u8>>| {
        files
            .into_iter()
            .map(|(name, bytes)| {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                let kept: Vec<&str> = text
                    .lines()
                    .filter(|l| !l.contains("\"dedup\": "))
                    .collect();
                (name, kept.join("\n"))
            })
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let (a, b) = (strip(files(a)), strip(files(b)));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (name, text) in &a {
        assert!(
            text == &b[name],
            "{name} differs:\n{text}\n---\n{}",
            b[name]
        );
    }
}

/// Every CSV file under `dir` as a Parquet file of the same rows (column types as
/// polars infers them: counts as integers unless a cell is not one).
fn to_parquet(dir: &Path) {
    use polars::prelude::*;
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_none_or(|x| x != "csv") {
            continue;
        }
        let mut frame = CsvReadOptions::default()
            .with_has_header(true)
            .try_into_reader_with_file_path(Some(path.clone()))
            .unwrap()
            .finish()
            .unwrap();
        let out = std::fs::File::create(path.with_extension("parquet")).unwrap();
        ParquetWriter::new(out).finish(&mut frame).unwrap();
        std::fs::remove_file(&path).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// Ids from a small pool across files and a log: repeats (some conflicting, some
    /// of rejected or unreadable first copies), rejects, rows without id,
    /// imported-model invocations (derived copy windows), any batch size.
    #[test]
    fn one_pass_on_disk_equals_memory(
        files_rows in prop::collection::vec(
            prop::collection::vec((0u8..12, 1u32..5000, 0u8..10, 0u8..60), 0..25),
            1..5,
        ),
        log in prop::collection::vec((1u8..12, 1u32..5000, prop::bool::weighted(0.2)), 0..12),
        batch in prop::sample::select(vec![1usize, 3, 65_536]),
        by in prop::sample::select(vec!["model_id,mode,region", "model_id,hour,account_id"]),
        partition in any::<bool>(),
        parquet in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let rows: Vec<Rows> = files_rows;
        let inputs = write_inputs(dir.path(), &rows, &log);
        if parquet {
            // Parquet only: two passes, the second without the id column.
            to_parquet(&dir.path().join("in"));
            std::fs::remove_file(dir.path().join("in/log.jsonl")).unwrap();
        }
        let imported = fixture("capacity/imported_models.csv").display().to_string();
        let mut flags = strings(&[
            "--format", "csv", "--batch-rows", &batch.to_string(), "--group-by", by,
            "--imported-models", &imported, "--to", "2026-01-01",
        ]);
        if partition {
            flags.extend(strings(&["--partition-by", "day"]));
        }
        let memory = run_with(&inputs, dir.path(), "memory", "memory", &flags);
        let disk = run_with(&inputs, dir.path(), "disk", "disk", &flags);
        prop_assert_eq!(memory, disk);
        assert_same_reports(&dir.path().join("memory"), &dir.path().join("disk"));
        // Line items keep two passes: the same again.
        let items = [flags.clone(), strings(&["--line-items"])].concat();
        run_with(&inputs, dir.path(), "memory-items", "memory", &items);
        run_with(&inputs, dir.path(), "disk-items", "disk", &items);
        assert_same_reports(&dir.path().join("memory-items"), &dir.path().join("disk-items"));
    }
}
