//! `billrun prices fetch` and `update`: the public AWS Price List offer files, over
//! HTTPS, without credentials.
//!
//! For each offer, the region index (`/offers/v1.0/aws/<offer>/current/region_index.json`)
//! is read once and each region's `currentVersionUrl` pinned from it, so one fetch is
//! one consistent version. Files land in a staging directory beside `--out` that
//! replaces it only when every file arrived whole: a failed or partial fetch never
//! replaces a previous good download. Each request is retried with backoff.

use crate::error::{Error, Result};
use crate::replace;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where AWS serves the Price List.
pub const ENDPOINT: &str = "https://pricing.us-east-1.amazonaws.com";
/// The Bedrock offers.
pub const OFFERS: [&str; 3] = [
    "AmazonBedrock",
    "AmazonBedrockFoundationModels",
    "AmazonBedrockService",
];
const ATTEMPTS: u32 = 4;

/// What to fetch.
pub struct FetchPlan<'a> {
    pub endpoint: &'a str,
    pub offers: Vec<String>,
    /// Empty: every region an offer lists.
    pub regions: Vec<String>,
    pub quiet: bool,
}

/// One downloaded offer file.
#[derive(Debug)]
pub struct Fetched {
    pub offer: String,
    pub region: String,
    /// `<offer>/<region>/index.json` under the output directory.
    pub path: PathBuf,
    pub bytes: u64,
}

/// Downloads the plan's files into `out` (replaced whole on success).
pub fn fetch(plan: &FetchPlan, out: &Path) -> Result<Vec<Fetched>> {
    let staging = staging_beside(out)?;
    let result = download_all(plan, &staging);
    let fetched = match result {
        Ok(f) => f,
        Err(e) => {
            std::fs::remove_dir_all(&staging).ok();
            return Err(e);
        }
    };
    let parked = replace::hidden_sibling(out, "old");
    let old = replace::put_in_place(&staging, out, &parked).map_err(|e| Error::output(out, e))?;
    if let Some(old) = old {
        std::fs::remove_dir_all(&old).map_err(|e| Error::output(&old, e))?;
    }
    Ok(fetched
        .into_iter()
        .map(|f| Fetched {
            path: out.join(f.path.strip_prefix(&staging).unwrap_or(&f.path)),
            ..f
        })
        .collect())
}

fn staging_beside(out: &Path) -> Result<PathBuf> {
    if out.file_name().is_none() {
        return Err(Error::Usage(format!("--out {} has no name", out.display())));
    }
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| Error::output(parent, e))?;
    let staging = replace::hidden_sibling(out, "tmp");
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(|e| Error::output(&staging, e))?;
    }
    std::fs::create_dir(&staging).map_err(|e| Error::output(&staging, e))?;
    Ok(staging)
}

fn download_all(plan: &FetchPlan, dir: &Path) -> Result<Vec<Fetched>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::output_msg(dir, format!("cannot start the HTTP client: {e}")))?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(300))
        .connect_timeout(Duration::from_secs(20))
        .build()
        .map_err(|e| Error::output_msg(dir, format!("cannot start the HTTP client: {e}")))?;
    let progress = crate::progress::Download::new(plan.quiet);
    let result = download_offers(plan, dir, &runtime, &client, &progress);
    progress.finish();
    result
}

fn download_offers(
    plan: &FetchPlan,
    dir: &Path,
    runtime: &tokio::runtime::Runtime,
    client: &reqwest::Client,
    progress: &crate::progress::Download,
) -> Result<Vec<Fetched>> {
    let mut fetched = Vec::new();
    for offer in &plan.offers {
        let index_url = format!(
            "{}/offers/v1.0/aws/{offer}/current/region_index.json",
            plan.endpoint.trim_end_matches('/')
        );
        let index = runtime.block_on(get(client, &index_url, progress))?;
        let index: serde_json::Value = serde_json::from_slice(&index)
            .map_err(|e| Error::input_msg(&index_url, format!("not a region index: {e}")))?;
        for (region, url) in pinned_regions(&index, &plan.regions, &index_url)? {
            let url = format!("{}{url}", plan.endpoint.trim_end_matches('/'));
            let body = runtime.block_on(get(client, &url, progress))?;
            let path = dir.join(offer).join(&region).join("index.json");
            std::fs::create_dir_all(path.parent().unwrap_or(dir))
                .map_err(|e| Error::output(&path, e))?;
            std::fs::write(&path, &body).map_err(|e| Error::output(&path, e))?;

            fetched.push(Fetched {
                offer: offer.clone(),
                region,
                path,
                bytes: body.len() as u64,
            });
        }
    }
    Ok(fetched)
}

/// Each wanted region's `currentVersionUrl`, as the index pins it; a region asked
/// for that the offer does not list is an error.
fn pinned_regions(
    index: &serde_json::Value,
    wanted: &[String],
    url: &str,
) -> Result<Vec<(String, String)>> {
    let regions = index["regions"]
        .as_object()
        .ok_or_else(|| Error::input_msg(url, "no \"regions\" in the region index"))?;
    let mut out = Vec::new();
    for (region, entry) in regions {
        if !wanted.is_empty() && !wanted.contains(region) {
            continue;
        }
        let version_url = entry["currentVersionUrl"]
            .as_str()
            .ok_or_else(|| Error::input_msg(url, format!("{region} has no currentVersionUrl")))?;
        out.push((region.clone(), version_url.to_string()));
    }
    if let Some(missing) = wanted.iter().find(|r| !regions.contains_key(*r)) {
        return Err(Error::Usage(format!(
            "{url}: the offer lists no region {missing}"
        )));
    }
    Ok(out)
}

/// GET with retries (0.5 s, 1 s, 2 s apart): the whole body, or why not.
async fn get(
    client: &reqwest::Client,
    url: &str,
    progress: &crate::progress::Download,
) -> Result<Vec<u8>> {
    let mut last = String::new();
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(500 << (attempt - 1))).await;
        }
        match once(client, url, progress).await {
            Ok(body) => return Ok(body),
            Err((e, retry)) if retry => last = e,
            Err((e, _)) => return Err(Error::input_msg(url, e)),
        }
    }
    Err(Error::input_msg(
        url,
        format!("failed {ATTEMPTS} times, last: {last}"),
    ))
}

/// One attempt: the body, or the failure and whether it is worth retrying.
async fn once(
    client: &reqwest::Client,
    url: &str,
    progress: &crate::progress::Download,
) -> std::result::Result<Vec<u8>, (String, bool)> {
    let mut response = client
        .get(url)
        .send()
        .await
        .map_err(|e| (e.to_string(), true))?;
    let status = response.status();
    if !status.is_success() {
        let retry = status.is_server_error() || status.as_u16() == 429;
        return Err((format!("HTTP {status}"), retry));
    }
    let expected = response.content_length();
    progress.start(url.rsplit("/aws/").next().unwrap_or(url), expected);
    let mut body = Vec::with_capacity(expected.unwrap_or(0).min(1 << 30) as usize);
    while let Some(chunk) = response.chunk().await.map_err(|e| (e.to_string(), true))? {
        progress.add(chunk.len() as u64);
        body.extend_from_slice(&chunk);
    }
    match expected {
        Some(n) if n != body.len() as u64 => Err((
            format!("the body ended after {} of {n} bytes", body.len()),
            true,
        )),
        _ => Ok(body),
    }
}
