//! `billrun prices import`: AWS Price List files → a catalog billrun checks and prices with.

use super::*;

fn pricelist(name: &str) -> String {
    fixture(&format!("pricelist/{name}")).display().to_string()
}

const EXCERPT: &str = "AmazonBedrock-us-east-1-20260911124408-excerpt.json";

#[test]
fn an_imported_catalog_checks_clean_and_prices_usage_from_its_effective_date() {
    let tmp = tempfile::tempdir().unwrap();
    let (catalog, report) = (tmp.path().join("c.csv"), tmp.path().join("r.csv"));
    let o = billrun(&[
        "prices",
        "import",
        &pricelist(EXCERPT),
        "--out",
        catalog.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o)
            .contains("11 prices imported; 1 SKUs outside billrun's meters, 0 not understood")
    );
    let check = billrun(&["prices", "--check", catalog.to_str().unwrap()]);
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
    let skipped = read_csv(&report);
    assert_eq!(skipped.len(), 1);
    assert_eq!(
        (skipped[0]["sku"].as_str(), skipped[0]["status"].as_str()),
        ("2W4JGY5BWVAPKQ6J", "outside_meters")
    );
    // Nova Lite at the Price List's $0.00006 / $0.00024 per 1K: 1000 in, 500 out =
    // 0.00006 + 0.00012. Usage before the term's effective date (2026-08-01) has no
    // price in this catalog: a reject, not a guess.
    let header = "timestamp,region,model_id,request_id,input_tokens,output_tokens";
    let usage = usage_file(
        tmp.path(),
        "u.csv",
        header,
        &[
            "2026-09-02T10:00:00Z,us-east-1,amazon.nova-lite-v1:0,a,1000,500",
            "2025-11-02T10:00:00Z,us-east-1,amazon.nova-lite-v1:0,b,1000,500",
        ],
    );
    let (o, dir) = run_csv(&[&usage], &["--prices", catalog.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let m = manifest(dir.path());
    assert_eq!(m["totals"]["USD"], "0.000180000000");
    let rejects = read_csv(&dir.path().join("out/rejects.csv"));
    assert_eq!(
        (
            rejects[0]["request_id"].as_str(),
            rejects[0]["reason"].as_str()
        ),
        ("b", "no_price")
    );
}

#[test]
fn an_sku_not_understood_exits_1_and_a_malformed_file_exits_2() {
    let o = billrun(&[
        "prices",
        "import",
        &pricelist("AmazonBedrockService-us-east-1.json"),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("1 prices imported; 2 SKUs outside billrun's meters, 1 not understood")
    );
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("index.json");
    std::fs::write(&bad, "{\"products\": ").unwrap();
    let o = billrun(&["prices", "import", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("index.json: not valid JSON"),
        "{}",
        stderr(&o)
    );
    // The same SKUs twice (bulk file and its CSV): two SKUs for one meter.
    let o = billrun(&[
        "prices",
        "import",
        &pricelist(EXCERPT),
        &pricelist("AmazonBedrock-excerpt.csv"),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("both price"), "{}", stderr(&o));
}

#[test]
fn a_failed_import_keeps_the_previous_catalog() {
    let tmp = tempfile::tempdir().unwrap();
    let catalog = tmp.path().join("c.csv");
    std::fs::write(&catalog, "previous").unwrap();
    let bad = tmp.path().join("index.json");
    std::fs::write(&bad, "{\"a\": 1}").unwrap();
    let o = billrun(&[
        "prices",
        "import",
        bad.to_str().unwrap(),
        "--out",
        catalog.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(std::fs::read_to_string(&catalog).unwrap(), "previous");
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert_eq!(left.len(), 2, "no temporary file left");
}

#[test]
fn history_prices_old_usage_at_the_old_price() {
    let tmp = tempfile::tempdir().unwrap();
    let catalog = tmp.path().join("c.csv");
    let mut args = vec!["prices".to_string(), "import".into(), "--history".into()];
    for v in ["20250101000000", "20260201000000", "20260601000000"] {
        args.push(pricelist(&format!(
            "history/AmazonBedrock-us-east-1-{v}.json"
        )));
    }
    args.extend(["--out".into(), catalog.display().to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = billrun(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        billrun(&["prices", "--check", catalog.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    let header = "timestamp,region,model_id,request_id,input_tokens,output_tokens";
    let usage = usage_file(
        tmp.path(),
        "u.csv",
        header,
        &[
            "2026-01-31T23:59:59Z,us-east-1,amazon.nova-micro-v1:0,old,1000,0",
            "2026-02-01T00:00:00Z,us-east-1,amazon.nova-micro-v1:0,new,1000,0",
        ],
    );
    let (o, dir) = run_csv(
        &[&usage],
        &["--prices", catalog.to_str().unwrap(), "--line-items"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        line_item_fields(dir.path(), &["request_id", "cost"]),
        ["old 0.000035000000", "new 0.000030000000"]
    );
}

/// A Price List server on 127.0.0.1 for one test, in AWS's URL layout: the real
/// region index excerpt and offer file for us-east-1. With `cut`, offer files end
/// halfway (a server failing mid-file). It stops after `requests` requests or 30 s.
fn serve(offer: Vec<u8>, cut: bool, requests: usize) -> (String, std::thread::JoinHandle<usize>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let index =
        std::fs::read(fixture("pricelist/AmazonBedrock-region_index-excerpt.json")).unwrap();
    let server = std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let mut served = 0;
        while served < requests && std::time::Instant::now() < deadline {
            let Ok((mut stream, _)) = listener.accept() else {
                std::thread::sleep(std::time::Duration::from_millis(5));
                continue;
            };
            stream.set_nonblocking(false).unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let line = String::from_utf8_lossy(&request)
                .lines()
                .next()
                .unwrap_or("")
                .to_string();
            let path = line.split_whitespace().nth(1).unwrap_or("");
            let body: Option<&[u8]> = match path {
                "/offers/v1.0/aws/AmazonBedrock/current/region_index.json" => Some(&index),
                "/offers/v1.0/aws/AmazonBedrock/20260911124408/us-east-1/index.json" => {
                    Some(&offer)
                }
                _ => None,
            };
            let _ = match body {
                Some(b) => {
                    let sent = if cut && b.len() == offer.len() {
                        &b[..b.len() / 2]
                    } else {
                        b
                    };
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        b.len()
                    );
                    stream
                        .write_all(head.as_bytes())
                        .and_then(|_| stream.write_all(sent))
                }
                None => stream.write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                ),
            };
            served += 1;
        }
        served
    });
    (url, server)
}

fn excerpt_bytes() -> Vec<u8> {
    std::fs::read(fixture(&format!("pricelist/{EXCERPT}"))).unwrap()
}

/// `billrun prices <command> <flag> <path>` against the test server at `url`.
fn prices_from(url: &str, command: &str, flag: &str, path: &Path) -> Output {
    let path = path.display().to_string();
    billrun(&[
        "prices",
        command,
        flag,
        &path,
        "--endpoint",
        url,
        "--offers",
        "AmazonBedrock",
        "--regions",
        "us-east-1",
        "--quiet",
    ])
}

#[test]
fn fetch_pins_the_current_version_and_downloads_it_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("offers");
    let (url, server) = serve(excerpt_bytes(), false, 2);
    let o = prices_from(&url, "fetch", "--out", &out);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        server.join().unwrap(),
        2,
        "the region index, then the pinned version"
    );
    assert_eq!(
        std::fs::read(out.join("AmazonBedrock/us-east-1/index.json")).unwrap(),
        excerpt_bytes()
    );
}

#[test]
fn a_fetch_that_fails_mid_file_keeps_the_previous_download_and_catalog() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("offers");
    std::fs::create_dir_all(out.join("AmazonBedrock/us-east-1")).unwrap();
    std::fs::write(out.join("AmazonBedrock/us-east-1/index.json"), "previous").unwrap();
    // The index once, then the offer file cut short on every one of the 4 attempts.
    let (url, server) = serve(excerpt_bytes(), true, 5);
    let o = prices_from(&url, "fetch", "--out", &out);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("failed 4 times"), "{}", stderr(&o));
    assert_eq!(server.join().unwrap(), 5);
    assert_eq!(
        std::fs::read_to_string(out.join("AmazonBedrock/us-east-1/index.json")).unwrap(),
        "previous"
    );
    let leftovers = std::fs::read_dir(tmp.path()).unwrap().count();
    assert_eq!(leftovers, 1, "no staging left behind");
    // update, likewise: the old catalog stays.
    let catalog = tmp.path().join("c.csv");
    std::fs::write(&catalog, "old catalog").unwrap();
    let (url, _server) = serve(excerpt_bytes(), true, 5);
    let o = prices_from(&url, "update", "--catalog", &catalog);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(std::fs::read_to_string(&catalog).unwrap(), "old catalog");
}

#[test]
fn update_replaces_the_catalog_and_says_what_changed() {
    let tmp = tempfile::tempdir().unwrap();
    let catalog = tmp.path().join("c.csv");
    let update = |offer: Vec<u8>| {
        let (url, server) = serve(offer, false, 2);
        let o = prices_from(&url, "update", "--catalog", &catalog);
        server.join().unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        stderr(&o)
    };
    assert!(update(excerpt_bytes()).contains("11 rows added, 0 removed, 0 repriced"));
    assert_eq!(
        billrun(&["prices", "--check", catalog.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    // AWS changes Nova Lite's input price in place.
    let changed = String::from_utf8(excerpt_bytes())
        .unwrap()
        .replace("\"0.0000600000\"", "\"0.0000550000\"");
    assert!(update(changed.into_bytes()).contains("0 rows added, 0 removed, 1 repriced"));
    assert!(
        std::fs::read_to_string(&catalog)
            .unwrap()
            .contains("0.0000550000")
    );
}

#[test]
fn a_summary_counts_models_regions_meters_and_sources() {
    let tmp = tempfile::tempdir().unwrap();
    let catalog = tmp.path().join("c.csv");
    let o = billrun(&[
        "prices",
        "import",
        &pricelist(EXCERPT),
        "--out",
        catalog.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let o = billrun(&["prices", "--summary", "--prices", catalog.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains(": 11 rows, 6 models x 1 regions, 11 (model, region, meter, mode) cells"),
        "{text}"
    );
    assert!(
        text.contains("  mu_hours               provisioned    1"),
        "{text}"
    );
    assert!(
        text.contains("  AWS Price List                           11"),
        "{text}"
    );
}
