//! `gen-usage`: writes N deterministic, realistic canonical usage rows (for benchmarks).
//!
//! Usage: gen-usage ROWS OUT_DIR [csv|parquet]  → OUT_DIR/usage.<ext>
//! The mix: eight models (geo and global inference profiles among them), two regions,
//! ~10% batch, priority/flex tiers, cache tokens on a third of Claude/Nova rows,
//! image rows with sizes and qualities, 20 accounts, team tags, a month of timestamps.

use billrun::report::sink::{self, Format};
use billrun::report::table::{Kind, Schema, Table, Values};
use billrun::time::parse_instant;
use std::path::PathBuf;

const CHUNK: usize = 262_144;

/// (model id, has cache meters, has a batch price, is an image model)
const MODELS: [(&str, bool, bool, bool); 8] = [
    (
        "us.anthropic.claude-3-5-sonnet-20241022-v2:0",
        true,
        true,
        false,
    ),
    (
        "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
        true,
        false,
        false,
    ),
    (
        "eu.anthropic.claude-3-haiku-20240307-v1:0",
        false,
        true,
        false,
    ),
    ("amazon.nova-pro-v1:0", true, true, false),
    ("us.amazon.nova-micro-v1:0", true, true, false),
    ("meta.llama3-1-70b-instruct-v1:0", false, true, false),
    ("amazon.titan-embed-text-v2:0", false, true, false),
    ("amazon.titan-image-generator-v2:0", false, false, true),
];
const REGIONS: [&str; 2] = ["us-east-1", "us-west-2"];
const TEAMS: [&str; 5] = ["search", "ads", "research", "creative", "platform"];

/// splitmix64: a fixed, fast, well-mixed function of the row number.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn schema() -> Schema {
    use Kind::*;
    [
        ("timestamp", Instant),
        ("region", Text),
        ("model_id", Text),
        ("mode", Text),
        ("service_tier", Text),
        ("request_id", Text),
        ("account_id", Text),
        ("principal", Text),
        ("input_tokens", Int),
        ("output_tokens", Int),
        ("cache_read_tokens", Int),
        ("cache_write_tokens", Int),
        ("images", Int),
        ("image_width", Int),
        ("image_height", Int),
        ("image_quality", Text),
        ("tags", Text),
    ]
    .into_iter()
    .map(|(n, k)| (n.to_string(), k))
    .collect()
}

fn chunk(start: u64, len: usize, month_start: i64) -> Table {
    let mut t = Table::new(&schema());
    let mut text: Vec<Vec<Option<String>>> = (0..17).map(|_| Vec::with_capacity(len)).collect();
    let mut int: Vec<Vec<Option<i64>>> = (0..17).map(|_| Vec::with_capacity(len)).collect();
    let mut ts = Vec::with_capacity(len);
    for row in start..start + len as u64 {
        let r = mix(row);
        let (model, cache, batch_ok, image) = MODELS[(r % 8) as usize];
        let batch = batch_ok && (r >> 8).is_multiple_of(10);
        let tier = if model == "amazon.nova-pro-v1:0" && !batch {
            ["standard", "standard", "priority", "flex"][((r >> 12) % 4) as usize]
        } else {
            "standard"
        };
        let account = 100_000_000_000 + (r >> 16) % 20;
        ts.push(month_start + ((r >> 20) % (30 * 86_400)) as i64 * 1_000_000);
        text[1].push(Some(REGIONS[((r >> 24) % 2) as usize].to_string()));
        text[2].push(Some(model.to_string()));
        text[3].push(Some(if batch { "batch" } else { "on_demand" }.to_string()));
        text[4].push(Some(tier.to_string()));
        let id = mix(row ^ 0x5eed);
        text[5].push(Some(format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            id >> 32,
            (id >> 16) & 0xffff,
            id & 0xfff,
            0x8000 | (r & 0x3fff),
            row
        )));
        text[6].push(Some(account.to_string()));
        text[7].push(Some(format!(
            "arn:aws:iam::{account}:user/u{}",
            (r >> 28) % 50
        )));
        let tokens = |shift: u32, max: u64| Some(((r >> shift) % max) as i64 + 1);
        let with_cache = cache && !batch && tier == "standard" && (r >> 32).is_multiple_of(3);
        int[8].push(if image { None } else { tokens(34, 4000) });
        int[9].push(if image || model.contains("embed") {
            None
        } else {
            tokens(40, 1000)
        });
        int[10].push(if with_cache { tokens(46, 8000) } else { None });
        int[11].push(if with_cache && !model.contains("nova") {
            tokens(50, 2000)
        } else {
            None
        });
        let big = (r >> 54).is_multiple_of(2);
        int[12].push(image.then_some(1 + ((r >> 55) % 3) as i64));
        int[13].push(image.then_some(if big { 1024 } else { 512 }));
        int[14].push(image.then_some(if big { 1024 } else { 512 }));
        text[15].push(image.then(|| {
            if (r >> 58).is_multiple_of(2) {
                "standard"
            } else {
                "premium"
            }
            .to_string()
        }));
        text[16].push(Some(format!(
            "{{\"team\":\"{}\"}}",
            TEAMS[((r >> 60) % 5) as usize]
        )));
    }
    t.columns[0] = Values::Instant(ts);
    for (i, column) in t.columns.iter_mut().enumerate().skip(1) {
        *column = match column {
            Values::Int(_) => Values::Int(std::mem::take(&mut int[i])),
            _ => Values::Text(std::mem::take(&mut text[i])),
        };
    }
    t
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        return Err("usage: gen-usage ROWS OUT_DIR [csv|parquet]".into());
    }
    let rows: u64 = args[1].parse()?;
    let dir = PathBuf::from(&args[2]);
    let format = match args.get(3).map(String::as_str) {
        Some("csv") => Format::Csv,
        _ => Format::Parquet,
    };
    std::fs::create_dir_all(&dir)?;
    let month_start = parse_instant("2025-11-01").ok_or("bad constant")?;
    let mut out = sink::open(format, &dir, "usage", &schema())?;
    let mut start = 0;
    while start < rows {
        let len = (rows - start).min(CHUNK as u64) as usize;
        out.write(chunk(start, len, month_start))?;
        start += len as u64;
    }
    out.finish()?;
    Ok(())
}
