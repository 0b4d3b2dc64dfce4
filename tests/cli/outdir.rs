//! `--out` is billrun's, or it is refused: nothing billrun did not write is ever
//! removed, a change of layout needs `--replace`, and dead runs' staging is cleared.

use super::*;

const HEADER: &str = "timestamp,region,model_id,request_id,input_tokens,output_tokens";

/// A one-row usage CSV the embedded catalog prices.
fn tiny_usage(dir: &Path, name: &str, id: &str) -> PathBuf {
    let row = format!("2025-11-02T00:38:02Z,us-east-1,amazon.nova-lite-v1:0,{id},4,38");
    usage_file(dir, name, HEADER, &[&row])
}

fn refused(o: &Output, words: &str) {
    assert_eq!(o.status.code(), Some(2), "{}", stderr(o));
    assert!(stderr(o).contains(words), "{}", stderr(o));
}

#[test]
fn out_naming_the_input_directory_is_refused_and_the_input_kept() {
    // Before: `billrun run d --out d` exited 0 and the input CSV was gone.
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("d");
    let input = tiny_usage(&d, "b.csv", "r1");
    let before = std::fs::read(&input).unwrap();
    refused(&run_into(&[&d], &d, &[]), "is an input");
    assert_eq!(std::fs::read(&input).unwrap(), before);
    // An ancestor of an input, and a directory inside an input directory.
    refused(&run_into(&[&input], &d, &[]), "holds an input");
    refused(
        &run_into(&[&d], &d.join("reports"), &[]),
        "inside an input directory",
    );
    assert!(!d.join("reports").exists());
}

#[test]
fn out_holding_other_files_is_refused_untouched() {
    // Before: `--out ~/somedir` of unrelated files wiped them.
    let tmp = tempfile::tempdir().unwrap();
    let input = tiny_usage(&tmp.path().join("in"), "u.csv", "r1");
    let out = tmp.path().join("home");
    std::fs::create_dir_all(out.join("photos")).unwrap();
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    std::fs::write(out.join("photos/cat.jpg"), "meow").unwrap();
    let before = snapshot(&out);
    refused(
        &run_into(&[&input], &out, &[]),
        "which billrun did not write",
    );
    refused(
        &run_into(&[&input], &out, &["--replace"]),
        "which billrun did not write",
    );
    assert_eq!(snapshot(&out), before);
}

/// The invariant behind every case: whatever `--out` holds, a run never removes or
/// changes a file billrun did not write there.
#[test]
fn no_run_ever_removes_a_file_billrun_did_not_write() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tiny_usage(&tmp.path().join("in"), "u.csv", "r1");
    let flat = |out: &Path| run_into(&[&input], out, &["--format", "csv"]);
    let parts = |out: &Path| run_into(&[&input], out, &["--partition-by", "day"]);
    // (how the directory was made, where a stranger's file is put)
    type Make<'a> = &'a dyn Fn(&Path) -> Output;
    let cases: [(Make, &str); 7] = [
        (&flat, "notes.txt"),
        (&flat, "line_items.csv"), // a report name this run's manifest does not list
        (&flat, ".hidden"),
        (&parts, "summary/date=2025-11-02/notes.txt"),
        (&parts, "_runs/2025-11-02..2025-11-02/extra.csv"),
        (&parts, "summary/readme.md"),
        (&parts, "summary/date=2025-11-03/part-1.parquet"),
    ];
    for (i, (make, stranger)) in cases.iter().enumerate() {
        let out = tmp.path().join(format!("out{i}"));
        assert!(make(&out).status.code().unwrap() < 2);
        let path = out.join(stranger);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "not billrun's").unwrap();
        let before = snapshot(&out);
        for extra in [
            &[][..],
            &["--replace"],
            &["--partition-by", "day"],
            &["--format", "csv"],
        ] {
            let o = run_into(&[&input], &out, extra);
            assert_eq!(
                o.status.code(),
                Some(2),
                "{stranger} {extra:?}: {}",
                stderr(&o)
            );
            assert_eq!(snapshot(&out), before, "{stranger} {extra:?}");
        }
    }
}

#[test]
fn another_layout_is_refused_unless_replace_is_given() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tiny_usage(&tmp.path().join("in"), "u.csv", "r1");
    let out = tmp.path().join("out");
    let by_day = ["--partition-by", "day"];
    assert_eq!(run_into(&[&input], &out, &by_day).status.code(), Some(0));
    let history = snapshot(&out);
    // Before: a flat run deleted every partition; a month run left the day partitions
    // beside it (a statement billed the month twice).
    for other in [
        &[][..],
        &["--partition-by", "month"],
        &["--partition-by", "day", "--format", "csv"],
    ] {
        let o = run_into(&[&input], &out, other);
        refused(&o, "Pass --replace to replace it whole");
        assert_eq!(snapshot(&out), history, "{other:?}");
    }
    let by_month = ["--partition-by", "month", "--replace"];
    assert_eq!(run_into(&[&input], &out, &by_month).status.code(), Some(0));
    assert!(out.join("summary/month=2025-11/part-0.parquet").exists());
    assert!(!out.join("summary/date=2025-11-02").exists());
    // Flat csv over flat parquet: no stale summary.parquet beside summary.csv.
    let flat = tmp.path().join("flat");
    assert_eq!(run_into(&[&input], &flat, &[]).status.code(), Some(0));
    refused(
        &run_into(&[&input], &flat, &["--format", "csv"]),
        "--replace",
    );
    let o = run_into(&[&input], &flat, &["--format", "csv", "--replace"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(flat.join("summary.csv").exists() && !flat.join("summary.parquet").exists());
    // The same layout again needs no flag.
    assert_eq!(
        run_into(&[&input], &flat, &["--format", "csv"])
            .status
            .code(),
        Some(0)
    );
}

#[test]
fn a_second_run_on_the_same_out_fails_clearly_while_the_first_holds_it() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tiny_usage(&tmp.path().join("in"), "u.csv", "r1");
    let out = tmp.path().join("out");
    let lock = std::fs::File::create(tmp.path().join(".out.billrun-lock")).unwrap();
    lock.lock().unwrap();
    refused(
        &run_into(&[&input], &out, &[]),
        "being written by another billrun run",
    );
    assert!(!out.exists());
    lock.unlock().unwrap();
    assert_eq!(run_into(&[&input], &out, &[]).status.code(), Some(0));
}

#[test]
fn staging_left_by_dead_runs_is_cleared_and_parked_reports_put_back() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tiny_usage(&tmp.path().join("in"), "u.csv", "r1");
    let out = tmp.path().join("out");
    assert_eq!(run_into(&[&input], &out, &[]).status.code(), Some(0));
    // A dead run (no such PID) that was cut between the two renames of the fallback
    // commit: its old reports parked, --out missing; and another's staging.
    let dead = 4_000_000_000u32;
    let parked = tmp.path().join(format!(".out.billrun-old-{dead}"));
    std::fs::rename(&out, &parked).unwrap();
    let staging = tmp.path().join(format!(".out.billrun-tmp-{}", dead - 1));
    std::fs::create_dir(&staging).unwrap();
    std::fs::write(staging.join("summary.parquet"), "half-written").unwrap();
    // This run fails after claiming --out (a required column is missing): the
    // parked reports are back in place all the same.
    let bad = usage_file(
        &tmp.path().join("in"),
        "bad.csv",
        "timestamp,region",
        &["x,y"],
    );
    assert_eq!(run_into(&[&bad], &out, &[]).status.code(), Some(2));
    assert!(out.join("manifest.json").exists() && out.join("summary.parquet").exists());
    assert!(!parked.exists() && !staging.exists());
    let leftovers: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("billrun-tmp") || n.contains("billrun-old"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_symlinked_or_nameless_out_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tiny_usage(&tmp.path().join("in"), "u.csv", "r1");
    let target = tmp.path().join("real");
    std::fs::create_dir(&target).unwrap();
    let link = tmp.path().join("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    refused(&run_into(&[&input], &link, &[]), "is a symbolic link");
    refused(
        &run_into(&[&input], Path::new("/"), &[]),
        "has no directory name",
    );
}
