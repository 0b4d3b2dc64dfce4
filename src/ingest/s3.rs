//! `s3://bucket/prefix` inputs: listed, pruned to the hours `--from/--to` cover in
//! the Bedrock layout, and streamed (logs, CSV) or read by range (Parquet) through
//! the `object_store` crate, with the standard AWS credential chain.
//!
//! Credentials, in AWS's order: the environment (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`); the shared files
//! (`AWS_SHARED_CREDENTIALS_FILE`, default `~/.aws/credentials`, and `AWS_CONFIG_FILE`,
//! default `~/.aws/config`) for `AWS_PROFILE` (default `default`); then web identity,
//! container and instance credentials (object_store's own chain). The region: the
//! environment (`AWS_REGION`, `AWS_DEFAULT_REGION`), the profile, else `us-east-1`.
//! `AWS_ENDPOINT_URL` points at an S3-compatible store (plain `http://` allowed there).

use super::{InputFile, InputKind, Skipped};
use crate::error::{Error, Result};
use futures::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as Key;
use object_store::{ObjectStore, ObjectStoreExt};
use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

/// Where an object lives: enough to open it from any thread.
#[derive(Clone, Debug)]
pub struct Object {
    pub bucket: String,
    pub key: String,
    pub size: u64,
    pub etag: Option<String>,
}

impl Object {
    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }
}

pub fn is_s3(input: &std::path::Path) -> bool {
    input.to_str().is_some_and(|s| s.starts_with("s3://"))
}

/// One runtime for every S3 request of the process (two I/O threads): readers on
/// any thread block on it, and clients keep their connections across objects.
fn runtime() -> Result<&'static tokio::runtime::Runtime> {
    static RUNTIME: std::sync::OnceLock<std::result::Result<tokio::runtime::Runtime, String>> =
        std::sync::OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("billrun-s3")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| Error::input_msg("s3", format!("cannot start the S3 client: {e}")))
}

/// An object key as S3 stores it. `Key::from` percent-encodes what it thinks unsafe
/// (`%`, `~`, `#`, ...), which is right for a name being made up and wrong for one
/// that exists: `a%20b.json` was asked for as `a%2520b.json` and "vanished". Keys from
/// a listing or a URL are parsed as they are, unless they cannot be a path at all.
fn literal(key: &str) -> Key {
    Key::parse(key).unwrap_or_else(|_| Key::from(key))
}

/// The client of `bucket`, made once per process.
fn store(bucket: &str) -> Result<Arc<AmazonS3>> {
    static CLIENTS: std::sync::OnceLock<std::sync::Mutex<BTreeMap<String, Arc<AmazonS3>>>> =
        std::sync::OnceLock::new();
    let clients = CLIENTS.get_or_init(Default::default);
    if let Some(c) = clients.lock().ok().and_then(|m| m.get(bucket).cloned()) {
        return Ok(c);
    }
    let _inside = runtime()?.enter();
    let made = Arc::new(client(bucket)?);
    if let Ok(mut m) = clients.lock() {
        m.insert(bucket.to_string(), made.clone());
    }
    Ok(made)
}

/// The profile's settings from the shared config and credentials files.
fn profile_settings() -> BTreeMap<String, String> {
    let home = std::env::var("HOME").unwrap_or_default();
    let profile = std::env::var("AWS_PROFILE").unwrap_or_else(|_| "default".into());
    let file = |var: &str, default: &str| {
        std::env::var(var).unwrap_or_else(|_| format!("{home}/.aws/{default}"))
    };
    let mut out = BTreeMap::new();
    // config: `[default]` or `[profile NAME]`; credentials: `[NAME]`.
    let config_section = match profile.as_str() {
        "default" => "default".to_string(),
        p => format!("profile {p}"),
    };
    for (path, section) in [
        (file("AWS_CONFIG_FILE", "config"), config_section),
        (
            file("AWS_SHARED_CREDENTIALS_FILE", "credentials"),
            profile.clone(),
        ),
    ] {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        out.extend(ini_section(&text, &section));
    }
    out
}

/// `key = value` lines of one `[section]` of an AWS INI file (comments dropped).
fn ini_section(text: &str, section: &str) -> BTreeMap<String, String> {
    let mut inside = false;
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = name.trim() == section;
            continue;
        }
        if let (true, Some((k, v))) = (inside, line.split_once('=')) {
            out.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    out
}

/// A client for `bucket`, inside the calling thread's runtime.
fn client(bucket: &str) -> Result<AmazonS3> {
    let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let profile = profile_settings();
    if env("AWS_ACCESS_KEY_ID").is_none()
        && let (Some(id), Some(secret)) = (
            profile.get("aws_access_key_id"),
            profile.get("aws_secret_access_key"),
        )
    {
        builder = builder
            .with_access_key_id(id)
            .with_secret_access_key(secret);
        if let Some(token) = profile.get("aws_session_token") {
            builder = builder.with_token(token);
        }
    }
    let region = env("AWS_REGION")
        .or_else(|| env("AWS_DEFAULT_REGION"))
        .or_else(|| profile.get("region").cloned())
        .unwrap_or_else(|| "us-east-1".into());
    builder = builder.with_region(region);
    if let Some(endpoint) = env("AWS_ENDPOINT_URL").or_else(|| profile.get("endpoint_url").cloned())
    {
        builder = builder
            .with_allow_http(endpoint.starts_with("http://"))
            .with_endpoint(endpoint);
    }
    builder
        .build()
        .map_err(|e| Error::input_msg(format!("s3://{bucket}"), e.to_string()))
}

/// How long after a record's time its log object may be delivered (folders of the
/// hour after `--to` are listed too; the records past `--to` count as out of range).
const DELIVERY_MARGIN: i64 = 3_600_000_000;

/// What listing an S3 input found.
pub struct Listed {
    pub files: Vec<InputFile>,
    pub skipped: Vec<Skipped>,
}

/// Lists `s3://bucket/prefix`: one object when the prefix names one, else every
/// object under it. Below `BedrockModelInvocationLogs/<region>/` only the hour
/// folders that meet `[from, to)` are listed.
pub fn list(input: &str, window: Option<(i64, i64)>) -> Result<Listed> {
    let rest = input.trim_start_matches("s3://");
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(Error::Usage(format!("{input}: no bucket name")));
    }
    let rt = runtime()?;
    let store = store(bucket)?;
    let fail = |e: object_store::Error| fatal(input, e);
    let objects: Vec<object_store::ObjectMeta> = rt.block_on(async {
        let prefix = prefix.trim_end_matches('/');
        // A prefix naming one object is that object.
        if !prefix.is_empty()
            && let Ok(one) = store.head(&literal(prefix)).await
        {
            return Ok(vec![one]);
        }
        let mut found = Vec::new();
        let mut pending = vec![literal(prefix)];
        while let Some(at) = pending.pop() {
            let here = (!at.as_ref().is_empty()).then_some(&at);
            if let Some((from, to)) = window.filter(|_| below_region(&at)) {
                // A record lands in the folder of the hour it was delivered, at or
                // after the hour it happened: an hour past --to is listed too.
                let bounds = (from, to.saturating_add(DELIVERY_MARGIN));
                let listing = store.list_with_delimiter(here).await.map_err(fail)?;
                found.extend(listing.objects);
                for folder in listing.common_prefixes {
                    if folder_meets(&folder, bounds) {
                        pending.push(folder);
                    }
                }
                continue;
            }
            if window.is_some() && !deep_in_layout(&at) {
                // Above the hour folders: descend folder by folder so pruning can start.
                let listing = store.list_with_delimiter(here).await.map_err(fail)?;
                found.extend(listing.objects);
                pending.extend(listing.common_prefixes);
                continue;
            }
            let mut stream = store.list(here);
            while let Some(meta) = stream.next().await {
                found.push(meta.map_err(fail)?);
            }
        }
        Ok::<_, Error>(found)
    })?;
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    for meta in objects {
        let key = meta.location.to_string();
        let object = Object {
            bucket: bucket.to_string(),
            key: key.clone(),
            size: meta.size,
            etag: meta.e_tag.clone(),
        };
        let path = PathBuf::from(object.url());
        let in_data = key.contains("/BedrockModelInvocationLogs/") && key.contains("/data/");
        match InputKind::of(&path) {
            _ if in_data => skipped.push(Skipped {
                path: object.url(),
                reason: "a Bedrock large-body object (data/), not a log record".into(),
            }),
            None => skipped.push(Skipped {
                path: object.url(),
                reason: "not a usage file kind".into(),
            }),
            Some(kind) => files.push(InputFile {
                path,
                kind,
                bytes: meta.size,
                stream: false,
                remote: Some(Arc::new(object)),
            }),
        }
    }
    if files.is_empty() {
        let detail = match skipped.first() {
            None => "no object under it".to_string(),
            Some(s) => format!("{} objects skipped, e.g. {}", skipped.len(), s.describe()),
        };
        return Err(Error::Usage(format!(
            "{input}: no usage file found ({detail})"
        )));
    }
    Ok(Listed { files, skipped })
}

fn fatal(input: &str, e: object_store::Error) -> Error {
    Error::input_msg(input, explain(&e))
}

/// The S3 error in words first (S3's error code says what happened), the client's
/// message after it.
fn explain(e: &object_store::Error) -> String {
    let text = e.to_string();
    let code = text
        .split_once("<Code>")
        .and_then(|(_, rest)| rest.split_once("</Code>"))
        .map(|(code, _)| code);
    let why = match (e, code) {
        (_, Some("NoSuchBucket")) => "no such bucket",
        (_, Some("NoSuchKey")) | (object_store::Error::NotFound { .. }, _) => "no such key",
        (_, Some("AccessDenied" | "AllAccessDisabled")) => "access denied",
        (
            _,
            Some("InvalidAccessKeyId" | "SignatureDoesNotMatch" | "ExpiredToken" | "InvalidToken"),
        ) => "the credentials were refused",
        (object_store::Error::PermissionDenied { .. }, _) => "access denied",
        (object_store::Error::Unauthenticated { .. }, _) => "the credentials were refused",
        _ if text.contains("169.254.169.254") || text.contains("169.254.170.2") => {
            "no credentials: none in the environment or the profile files, and no container or instance role answered"
        }
        _ => return crate::error::clip(&text),
    };
    format!("{why} ({})", crate::error::clip(&text))
}

/// The folder names below `BedrockModelInvocationLogs/<region>/` (year, month, day,
/// hour, ...), or `None` above the region folder or outside the layout.
fn below_region_folder(key: &Key) -> Option<Vec<String>> {
    let parts: Vec<String> = key.parts().map(|p| p.as_ref().to_string()).collect();
    let at = parts
        .iter()
        .position(|p| p == "BedrockModelInvocationLogs")?;
    (parts.len() > at + 1).then(|| parts[at + 2..].to_vec())
}

/// At or below the region folder, above the hour folders.
fn below_region(key: &Key) -> bool {
    below_region_folder(key).is_some_and(|names| names.len() < 4)
}

/// Inside an hour folder (or deeper): list everything.
fn deep_in_layout(key: &Key) -> bool {
    below_region_folder(key).is_some_and(|names| names.len() >= 4)
}

/// Whether the time span a `.../<region>/YYYY[/MM[/DD[/HH]]]` folder covers meets
/// `[from, to)` (micros). A folder whose names are not numbers is kept.
fn folder_meets(key: &Key, (from, to): (i64, i64)) -> bool {
    let names = below_region_folder(key).unwrap_or_default();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    match span_of(&names) {
        Some(span) => span.start < to && from < span.end,
        None => true,
    }
}

/// The UTC span of a year, month, day or hour given by its folder names.
fn span_of(nums: &[&str]) -> Option<Range<i64>> {
    let n = |i: usize| -> Option<u32> { nums.get(i)?.parse().ok() };
    let y = nums.first()?.parse::<i32>().ok()?;
    let at = |y: i32, m: u32, d: u32, h: u32| {
        let text = format!("{y:04}-{m:02}-{d:02}T{h:02}:00:00Z");
        crate::time::parse_instant(&text)
    };
    const HOUR: i64 = 3_600_000_000;
    Some(match nums.len() {
        1 => at(y, 1, 1, 0)?..at(y + 1, 1, 1, 0)?,
        2 => {
            let m = n(1)?;
            let start = at(y, m, 1, 0)?;
            start..crate::time::next_month_start(start)
        }
        3 => {
            let start = at(y, n(1)?, n(2)?, 0)?;
            start..start + 24 * HOUR
        }
        _ => {
            let start = at(y, n(1)?, n(2)?, n(3)?)?;
            start..start + HOUR
        }
    })
}

/// A small object (a catalog, a capacity table) read whole.
pub fn fetch(url: &str) -> Result<Vec<u8>> {
    let rest = url.trim_start_matches("s3://");
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    let object = Object {
        bucket: bucket.to_string(),
        key: key.to_string(),
        size: 0,
        etag: None,
    };
    let mut bytes = Vec::new();
    open(&object)?
        .read_to_end(&mut bytes)
        .map_err(|e| Error::input_msg(url, e.to_string()))?;
    Ok(bytes)
}

/// An object's bytes: prefetched whole (small objects, a few ahead of the reader), or
/// as a stream fetched chunk by chunk.
pub enum Stream {
    Whole(std::io::Cursor<bytes::Bytes>),
    Chunks {
        body: futures::stream::BoxStream<'static, object_store::Result<bytes::Bytes>>,
        chunk: bytes::Bytes,
        url: String,
    },
}

/// Objects fetched whole ahead of the reader: at most `AHEAD` objects of at most
/// `SMALL` bytes each are held or in flight (so at most 64 MiB), the next ones in
/// reading order. Bedrock writes many small log objects: one GET after another would
/// spend a day's run waiting on first bytes.
struct Prefetch {
    order: Vec<Object>,
    at: HashMap<String, usize>,
    fetching: HashMap<usize, tokio::task::JoinHandle<Result<bytes::Bytes>>>,
}

const AHEAD: usize = 8;
const SMALL: u64 = 8 << 20;

fn prefetch() -> &'static std::sync::Mutex<Prefetch> {
    static PREFETCH: std::sync::OnceLock<std::sync::Mutex<Prefetch>> = std::sync::OnceLock::new();
    PREFETCH.get_or_init(|| {
        std::sync::Mutex::new(Prefetch {
            order: Vec::new(),
            at: Default::default(),
            fetching: Default::default(),
        })
    })
}

/// The objects a run will open, in the order it opens them (each may be opened again:
/// a second pass starts the window over).
pub fn announce(objects: Vec<Object>) {
    if let Ok(mut p) = prefetch().lock() {
        p.at = objects
            .iter()
            .enumerate()
            .rev()
            .map(|(i, o)| (o.url(), i))
            .collect();
        p.order = objects;
        p.fetching.clear();
    }
}

impl Prefetch {
    /// Starts fetching the small objects after position `i` that are not in flight.
    fn top_up(&mut self, i: usize, rt: &tokio::runtime::Runtime) {
        for j in i + 1..(i + 1 + AHEAD).min(self.order.len()) {
            let o = &self.order[j];
            if o.size > SMALL || self.fetching.contains_key(&j) {
                continue;
            }
            let object = o.clone();
            self.fetching
                .insert(j, rt.spawn(async move { get_whole(&object).await }));
        }
    }
}

async fn get_whole(object: &Object) -> Result<bytes::Bytes> {
    let url = object.url();
    let store = store(&object.bucket)?;
    let key = literal(&object.key);
    let got = store.get(&key).await.map_err(|e| vanished(&url, e))?;
    got.bytes().await.map_err(|e| vanished(&url, e))
}

pub fn open(object: &Object) -> Result<Stream> {
    let rt = runtime()?;
    let url = object.url();
    let fetched = match prefetch().lock() {
        Ok(mut p) => match p.at.get(&url).copied() {
            Some(i) => {
                let mine = p.fetching.remove(&i);
                p.top_up(i, rt);
                mine
            }
            None => None,
        },
        Err(_) => None,
    };
    if let Some(task) = fetched {
        let bytes = rt
            .block_on(task)
            .map_err(|e| Error::input_msg(&url, format!("prefetch failed: {e}")))??;
        return Ok(Stream::Whole(std::io::Cursor::new(bytes)));
    }
    let store = store(&object.bucket)?;
    let body = rt.block_on(async {
        let got = store
            .get(&literal(&object.key))
            .await
            .map_err(|e| vanished(&url, e))?;
        Ok::<_, Error>(got.into_stream())
    })?;
    Ok(Stream::Chunks {
        body,
        chunk: bytes::Bytes::new(),
        url,
    })
}

fn vanished(url: &str, e: object_store::Error) -> Error {
    match e {
        object_store::Error::NotFound { .. } => Error::input_msg(
            url,
            "the object was listed but is gone (deleted during the run)",
        ),
        e => fatal(url, e),
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let (body, chunk, url) = match self {
            Stream::Whole(cursor) => return cursor.read(buf),
            Stream::Chunks { body, chunk, url } => (body, chunk, url),
        };
        while chunk.is_empty() {
            let next = runtime()
                .map_err(std::io::Error::other)?
                .block_on(body.next());
            match next {
                None => return Ok(0),
                Some(Ok(c)) => *chunk = c,
                Some(Err(e)) => return Err(std::io::Error::other(format!("{url}: {e}"))),
            }
        }
        let n = buf.len().min(chunk.len());
        buf[..n].copy_from_slice(&chunk[..n]);
        *chunk = chunk.slice(n..);
        Ok(n)
    }
}

/// A Parquet object read by ranges: the footer, then the projected column chunks,
/// page by page. Reads go through a small cache of aligned blocks (each column is
/// read forward from its own place, so one block per column is live at a time): no
/// byte is fetched twice while its block is cached, memory holds at most `BLOCKS`
/// blocks (cached or in flight), and a large read goes straight to S3. A block read
/// from S3 starts the fetch of the `READ_AHEAD` blocks after it, so the network
/// works while the reader decodes.
pub struct Ranged(Arc<RangedInner>);

struct RangedInner {
    rt: &'static tokio::runtime::Runtime,
    store: Arc<AmazonS3>,
    object: Object,
    key: Key,
    cache: std::sync::Mutex<Blocks>,
    clock: std::sync::atomic::AtomicU64,
}

/// (block index, its bytes or their fetch, last use).
type Blocks = Vec<(u64, Slot, u64)>;

enum Slot {
    Ready(bytes::Bytes),
    /// Fetched ahead of the reader.
    Pending(tokio::task::JoinHandle<object_store::Result<bytes::Bytes>>),
}

/// Adds a block, evicting the least recently used one when the cache is full (an
/// evicted fetch goes on unobserved and its bytes are dropped).
fn insert(cache: &mut Blocks, index: u64, slot: Slot, now: u64) {
    if cache.len() >= BLOCKS
        && let Some(oldest) = (0..cache.len()).min_by_key(|&i| cache[i].2)
    {
        cache.swap_remove(oldest);
    }
    cache.push((index, slot, now));
}

const BLOCK: u64 = 1 << 21;
const BLOCKS: usize = 32;
const READ_AHEAD: u64 = 4;

pub fn ranged(object: &Object) -> Result<Ranged> {
    let rt = runtime()?;
    let store = store(&object.bucket)?;
    Ok(Ranged(Arc::new(RangedInner {
        rt,
        store,
        key: literal(&object.key),
        object: object.clone(),
        cache: Default::default(),
        clock: Default::default(),
    })))
}

type ParquetResult<T> = parquet::errors::Result<T>;

impl RangedInner {
    fn fetch(&self, range: Range<u64>) -> ParquetResult<bytes::Bytes> {
        self.rt
            .block_on(self.store.get_range(&self.key, range))
            .map_err(|e| {
                let e = vanished(&self.object.url(), e);
                parquet::errors::ParquetError::External(Box::new(e))
            })
    }

    fn block(&self, index: u64) -> ParquetResult<bytes::Bytes> {
        use std::sync::atomic::Ordering;
        let now = self.clock.fetch_add(1, Ordering::Relaxed);
        let mut pending = None;
        if let Ok(mut cache) = self.cache.lock()
            && let Some(at) = cache.iter().position(|(i, _, _)| *i == index)
        {
            if let Slot::Ready(bytes) = &cache[at].1 {
                let bytes = bytes.clone();
                cache[at].2 = now;
                return Ok(bytes);
            }
            if let Slot::Pending(task) = cache.swap_remove(at).1 {
                pending = Some(task);
            }
        }
        let bytes = match pending.map(|task| self.rt.block_on(task)) {
            Some(Ok(Ok(bytes))) => bytes,
            // A failed or cancelled read-ahead is read again here, and fails here.
            _ => self.fetch(self.block_range(index))?,
        };
        if let Ok(mut cache) = self.cache.lock() {
            insert(&mut cache, index, Slot::Ready(bytes.clone()), now);
            self.read_ahead(&mut cache, index, now);
        }
        Ok(bytes)
    }

    fn block_range(&self, index: u64) -> Range<u64> {
        let start = index * BLOCK;
        start..(start + BLOCK).min(self.object.size)
    }

    /// Starts fetching the `READ_AHEAD` blocks after `index` that are not cached or
    /// in flight. In-flight blocks are cache entries too (so at most `BLOCKS` are held
    /// or fetched, and one never read ages out like any other), and at most half the
    /// cache is in flight.
    fn read_ahead(&self, cache: &mut Blocks, index: u64, now: u64) {
        for next in index + 1..=index + READ_AHEAD {
            let in_flight = cache
                .iter()
                .filter(|(_, slot, _)| matches!(slot, Slot::Pending(_)))
                .count();
            if next * BLOCK >= self.object.size
                || in_flight >= BLOCKS / 2
                || cache.iter().any(|(i, _, _)| *i == next)
            {
                continue;
            }
            let (store, key, range) =
                (self.store.clone(), self.key.clone(), self.block_range(next));
            let task = self
                .rt
                .spawn(async move { store.get_range(&key, range).await });
            insert(cache, next, Slot::Pending(task), now);
        }
    }

    fn bytes(&self, start: u64, length: usize) -> ParquetResult<bytes::Bytes> {
        let end = (start + length as u64).min(self.object.size);
        if start >= end {
            return Ok(bytes::Bytes::new());
        }
        let (first, last) = (start / BLOCK, (end - 1) / BLOCK);
        if first == last {
            let block = self.block(first)?;
            let at = (start - first * BLOCK) as usize;
            return Ok(block.slice(at..at + (end - start) as usize));
        }
        if last - first >= 4 {
            return self.fetch(start..end);
        }
        let mut out = Vec::with_capacity((end - start) as usize);
        for index in first..=last {
            let block = self.block(index)?;
            let from = start.max(index * BLOCK) - index * BLOCK;
            let to = end.min((index + 1) * BLOCK) - index * BLOCK;
            out.extend_from_slice(&block[from as usize..to as usize]);
        }
        Ok(out.into())
    }
}

/// A reader from an offset to the end of the object, a block at a time.
pub struct RangeRead {
    inner: Arc<RangedInner>,
    at: u64,
    held: bytes::Bytes,
}

impl Read for RangeRead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.held.is_empty() {
            let index = self.at / BLOCK;
            if self.at >= self.inner.object.size {
                return Ok(0);
            }
            let block = self.inner.block(index).map_err(std::io::Error::other)?;
            self.held = block.slice((self.at - index * BLOCK) as usize..);
        }
        let n = buf.len().min(self.held.len());
        buf[..n].copy_from_slice(&self.held[..n]);
        self.held = self.held.slice(n..);
        self.at += n as u64;
        Ok(n)
    }
}

impl parquet::file::reader::Length for Ranged {
    fn len(&self) -> u64 {
        self.0.object.size
    }
}

impl parquet::file::reader::ChunkReader for Ranged {
    type T = RangeRead;

    fn get_read(&self, start: u64) -> ParquetResult<RangeRead> {
        Ok(RangeRead {
            inner: self.0.clone(),
            at: start,
            held: bytes::Bytes::new(),
        })
    }

    fn get_bytes(&self, start: u64, length: usize) -> ParquetResult<bytes::Bytes> {
        self.0.bytes(start, length)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_files_are_read_by_section() {
        let text = "[default]\naws_access_key_id = A\n# c\n[profile dev]\nregion=eu-west-1\n[dev]\naws_access_key_id=B\n";
        assert_eq!(ini_section(text, "default")["aws_access_key_id"], "A");
        assert_eq!(ini_section(text, "profile dev")["region"], "eu-west-1");
        assert_eq!(ini_section(text, "dev")["aws_access_key_id"], "B");
        assert!(ini_section(text, "other").is_empty());
    }

    #[test]
    fn hour_folders_are_pruned_to_the_window() {
        let at = |s: &str| crate::time::parse_instant(s).unwrap();
        let window = (at("2025-11-01T08:00:00Z"), at("2025-11-01T10:00:00Z"));
        let key = |s: &str| {
            Key::from(format!(
                "AWSLogs/1/BedrockModelInvocationLogs/us-east-1/{s}"
            ))
        };
        assert!(folder_meets(&key("2025"), window));
        assert!(!folder_meets(&key("2024"), window));
        assert!(folder_meets(&key("2025/11"), window));
        assert!(!folder_meets(&key("2025/10"), window));
        assert!(folder_meets(&key("2025/11/01/09"), window));
        assert!(!folder_meets(&key("2025/11/01/10"), window));
        assert!(!folder_meets(&key("2025/11/01/07"), window));
        assert!(folder_meets(&key("odd"), window));
    }
}
