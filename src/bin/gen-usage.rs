//! `gen-usage`: writes N deterministic, realistic canonical usage rows (for benchmarks).
//!
//! Usage: gen-usage ROWS OUT_DIR [parquet|csv|logs]  → OUT_DIR/usage.<ext>, or for
//! `logs` gzip JSON invocation logs in the S3 layout under OUT_DIR/AWSLogs/ (no batch
//! rows: batch jobs are not in invocation logs); and OUT_DIR/catalog.csv, the prices
//! to run them with.
//! The mix: eight models (geo and global inference profiles among them), three
//! regions, ~10% batch, priority/flex tiers, cache tokens on a third of Claude/Nova
//! rows, image rows with sizes and qualities, 20 accounts, team tags, a month of
//! timestamps, and a price change in the middle of the month (catalog.csv: the
//! embedded list prices, copied to eu-central-1, with Nova Micro and Claude 3.5 Sonnet
//! v2 20% cheaper from the 16th).

use billrun::report::sink::{self, Format};
use billrun::report::table::{Kind, Schema, Table, Values};
use billrun::time::parse_instant;
use std::path::{Path, PathBuf};

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
const REGIONS: [&str; 3] = ["us-east-1", "us-west-2", "eu-central-1"];
/// Models whose prices change mid-month in the bench catalog, and when.
const REPRICED: [&str; 2] = [
    "amazon.nova-micro-v1:0",
    "anthropic.claude-3-5-sonnet-20241022-v2:0",
];
const PRICE_CHANGE: &str = "2025-11-16T00:00:00Z";
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

/// One generated usage record.
struct Spec {
    at: i64,
    region: &'static str,
    model: &'static str,
    batch: bool,
    tier: &'static str,
    request_id: String,
    account: u64,
    principal: String,
    meters: [Option<i64>; 4],
    /// (images, side in pixels, quality)
    image: Option<(i64, i64, &'static str)>,
    team: &'static str,
}

/// Row `row` of the mix; `logs` leaves out batch (batch jobs are not in invocation logs).
fn spec(row: u64, month_start: i64, logs: bool) -> Spec {
    let r = mix(row);
    let (model, cache, batch_ok, image) = MODELS[(r % 8) as usize];
    let batch = !logs && batch_ok && (r >> 8).is_multiple_of(10);
    let tier = if model == "amazon.nova-pro-v1:0" && !batch {
        ["standard", "standard", "priority", "flex"][((r >> 12) % 4) as usize]
    } else {
        "standard"
    };
    let account = 100_000_000_000 + (r >> 16) % 20;
    let id = mix(row ^ 0x5eed);
    let tokens = |shift: u32, max: u64| Some(((r >> shift) % max) as i64 + 1);
    let with_cache = cache && !batch && tier == "standard" && (r >> 32).is_multiple_of(3);
    let side = if (r >> 54).is_multiple_of(2) {
        1024
    } else {
        512
    };
    let quality = if (r >> 58).is_multiple_of(2) {
        "standard"
    } else {
        "premium"
    };
    Spec {
        at: month_start + ((r >> 20) % (30 * 86_400)) as i64 * 1_000_000,
        region: REGIONS[((r >> 24) % 3) as usize],
        model,
        batch,
        tier,
        request_id: format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            id >> 32,
            (id >> 16) & 0xffff,
            id & 0xfff,
            0x8000 | (r & 0x3fff),
            row
        ),
        account,
        principal: format!("arn:aws:iam::{account}:user/u{}", (r >> 28) % 50),
        meters: [
            if image { None } else { tokens(34, 4000) },
            if image || model.contains("embed") {
                None
            } else {
                tokens(40, 1000)
            },
            if with_cache { tokens(46, 8000) } else { None },
            if with_cache && !model.contains("nova") {
                tokens(50, 2000)
            } else {
                None
            },
        ],
        image: image.then_some((1 + ((r >> 55) % 3) as i64, side, quality)),
        team: TEAMS[((r >> 60) % 5) as usize],
    }
}

fn chunk(start: u64, len: usize, month_start: i64) -> Table {
    let mut t = Table::new(&schema());
    let specs: Vec<Spec> = (start..start + len as u64)
        .map(|row| spec(row, month_start, false))
        .collect();
    let text = |f: &dyn Fn(&Spec) -> Option<String>| Values::Text(specs.iter().map(f).collect());
    let int = |f: &dyn Fn(&Spec) -> Option<i64>| Values::Int(specs.iter().map(f).collect());
    t.columns = vec![
        Values::Instant(specs.iter().map(|s| s.at).collect()),
        text(&|s| Some(s.region.into())),
        text(&|s| Some(s.model.into())),
        text(&|s| Some(if s.batch { "batch" } else { "on_demand" }.into())),
        text(&|s| Some(s.tier.into())),
        text(&|s| Some(s.request_id.clone())),
        text(&|s| Some(s.account.to_string())),
        text(&|s| Some(s.principal.clone())),
        int(&|s| s.meters[0]),
        int(&|s| s.meters[1]),
        int(&|s| s.meters[2]),
        int(&|s| s.meters[3]),
        int(&|s| s.image.map(|i| i.0)),
        int(&|s| s.image.map(|i| i.1)),
        int(&|s| s.image.map(|i| i.1)),
        text(&|s| s.image.map(|i| i.2.into())),
        text(&|s| Some(format!("{{\"team\":\"{}\"}}", s.team))),
    ];
    t
}

/// About 1.5 KB of conversation: request and response bodies of realistic size.
const PROSE: &str = "The quarterly report shows steady growth in every region, with the strongest gains in the enterprise segment. ";

/// One invocation-log record (JSON, one line) for `s`.
fn log_record(s: &Spec) -> String {
    let t = billrun::time::format_instant(s.at);
    let mut body = serde_json::json!({
        "messages": [{"role": "user", "content": [{"text": PROSE.repeat(12)}]}],
        "inferenceConfig": {"maxTokens": 1024, "temperature": 0.5}
    });
    if s.tier != "standard" {
        body["serviceTier"] = s.tier.into();
    }
    if let Some((n, side, quality)) = s.image {
        body = serde_json::json!({"taskType": "TEXT_IMAGE", "textToImageParams": {"text": PROSE},
            "imageGenerationConfig": {"numberOfImages": n, "width": side, "height": side, "quality": quality}});
    }
    let mut input =
        serde_json::json!({"inputContentType": "application/json", "inputBodyJson": body});
    let mut output = serde_json::json!({"outputContentType": "application/json",
        "outputBodyJson": {"output": {"message": {"role": "assistant", "content": [{"text": PROSE.repeat(8)}]}}, "stopReason": "end_turn"}});
    let names = [
        "inputTokenCount",
        "outputTokenCount",
        "cacheReadInputTokenCount",
        "cacheWriteInputTokenCount",
    ];
    for (m, name) in names.iter().enumerate() {
        if let Some(v) = s.meters[m] {
            let target = if m == 1 { &mut output } else { &mut input };
            target[*name] = v.into();
        }
    }
    serde_json::json!({
        "schemaType": "ModelInvocationLog", "schemaVersion": "1.0", "timestamp": t,
        "accountId": s.account.to_string(), "region": s.region, "requestId": s.request_id,
        "operation": "Converse", "modelId": s.model, "identity": {"arn": s.principal},
        "requestMetadata": {"team": s.team}, "input": input, "output": output,
    })
    .to_string()
}

/// Writes `rows` records as gzip JSON lines in the S3 delivery layout, `per_file` to a file.
fn write_logs(
    rows: u64,
    dir: &std::path::Path,
    month_start: i64,
) -> Result<(), Box<dyn std::error::Error>> {
    use std::io::Write;
    const PER_FILE: u64 = 20_000;
    let mut start = 0;
    while start < rows {
        let first = spec(start, month_start, true);
        let hour = billrun::time::format_instant(first.at);
        let folder = dir.join(format!(
            "AWSLogs/{}/BedrockModelInvocationLogs/{}/{}/{}/{}/{}",
            first.account,
            first.region,
            &hour[0..4],
            &hour[5..7],
            &hour[8..10],
            &hour[11..13]
        ));
        std::fs::create_dir_all(&folder)?;
        let file = std::fs::File::create(folder.join(format!("part-{start:012}.json.gz")))?;
        let mut gz = flate2::write::GzEncoder::new(
            std::io::BufWriter::new(file),
            flate2::Compression::fast(),
        );
        for row in start..(start + PER_FILE).min(rows) {
            writeln!(gz, "{}", log_record(&spec(row, month_start, true)))?;
        }
        gz.finish()?.flush()?;
        start += PER_FILE;
    }
    Ok(())
}

/// The embedded catalog's curated US rows (not those generated from litellm or the
/// Price List, so the bench's price table stays the size it was), with every
/// us-east-1 price also in eu-central-1, and the `REPRICED` models' open-ended
/// prices split at `PRICE_CHANGE`: 20% cheaper after.
fn bench_catalog() -> Result<String, Box<dyn std::error::Error>> {
    use rust_decimal::Decimal;
    use std::str::FromStr;
    let mut reader = csv::Reader::from_reader(billrun::catalog::EMBEDDED_CSV.as_bytes());
    let header = reader.headers()?.clone();
    let col = |n: &str| header.iter().position(|h| h == n).ok_or("catalog column");
    let (model, region, price, from, to, source, offer) = (
        col("model_id")?,
        col("region")?,
        col("price")?,
        col("effective_from")?,
        col("effective_to")?,
        col("source")?,
        col("offer")?,
    );
    let mut rows: Vec<Vec<String>> = Vec::new();
    for record in reader.records() {
        let row: Vec<String> = record?.iter().map(String::from).collect();
        let curated = !row[source].starts_with("litellm") && row[offer].is_empty();
        if !curated || !["us-east-1", "us-west-2"].contains(&row[region].as_str()) {
            continue;
        }
        if row[region] == "us-east-1" {
            let mut copy = row.clone();
            copy[region] = "eu-central-1".into();
            copy[source] = "bench: us-east-1 price".into();
            rows.push(copy);
        }
        rows.push(row);
    }
    let mut out = Vec::new();
    for row in rows {
        let open = row[from].is_empty() && row[to].is_empty();
        if !(open && REPRICED.contains(&row[model].as_str())) {
            out.push(row);
            continue;
        }
        let (mut before, mut after) = (row.clone(), row);
        before[to] = PRICE_CHANGE.into();
        after[from] = PRICE_CHANGE.into();
        let cheaper = Decimal::from_str(&after[price])? * Decimal::from_str("0.8")?;
        after[price] = cheaper.normalize().to_string();
        after[source] = "bench: 20% price cut mid-month".into();
        out.extend([before, after]);
    }
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    writer.write_record(&header)?;
    for row in out {
        writer.write_record(&row)?;
    }
    Ok(String::from_utf8(writer.into_inner()?)?)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).is_some_and(|a| a == "inflate") && args.len() == 3 {
        return inflate(Path::new(&args[2]));
    }
    if args.len() < 3 {
        return Err(
            "usage: gen-usage ROWS OUT_DIR [parquet|csv|logs] | gen-usage inflate DIR".into(),
        );
    }
    let rows: u64 = args[1].parse()?;
    let dir = PathBuf::from(&args[2]);
    std::fs::create_dir_all(&dir)?;
    let month_start = parse_instant("2025-11-01").ok_or("bad constant")?;
    std::fs::write(dir.join("catalog.csv"), bench_catalog()?)?;
    let format = match args.get(3).map(String::as_str) {
        Some("logs") => return write_logs(rows, &dir, month_start),
        Some("csv") => Format::Csv,
        _ => Format::Parquet,
    };
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

/// The invocation-log floor: inflates every `.gz` file under `dir` with the library
/// and threading billrun reads them with (flate2's `MultiGzDecoder`, one file at a
/// time on one thread), parses nothing, and prints the files and bytes inflated.
fn inflate(dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let mut pending = vec![dir.to_path_buf()];
    let mut files = Vec::new();
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d)? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "gz") {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut bytes = 0u64;
    let mut buf = vec![0u8; 1 << 20];
    for path in &files {
        let file = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(path)?);
        let mut gz = flate2::read::MultiGzDecoder::new(file);
        loop {
            let n = std::io::Read::read(&mut gz, &mut buf)?;
            if n == 0 {
                break;
            }
            bytes += n as u64;
        }
    }
    println!("{} files, {bytes} bytes inflated", files.len());
    Ok(())
}
