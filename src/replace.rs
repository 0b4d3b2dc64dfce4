//! Replacing a path billrun owns in one step: staged beside it under a hidden name,
//! then exchanged in (`renameat2(RENAME_EXCHANGE)`), so no instant exists without
//! it. Used for report directories (`report::outdir`) and catalog files (`catalog`,
//! `prices`); it knows nothing of what they hold.

use std::path::{Path, PathBuf};

/// `.NAME.billrun-<what>-<pid>` beside `path`: where billrun stages, parks or writes a
/// file before it takes `path`'s place.
pub fn hidden_sibling(path: &Path, what: &str) -> PathBuf {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let pid = std::process::id();
    path.with_file_name(format!(".{name}.billrun-{what}-{pid}"))
}

/// Puts directory `new` at `target`: a rename when `target` is missing, else an
/// `exchange` (parking at `parked` where the system cannot exchange). Returns where the
/// previous `target` now is, for the caller to remove or keep.
pub fn put_in_place(new: &Path, target: &Path, parked: &Path) -> std::io::Result<Option<PathBuf>> {
    if !target.exists() {
        return std::fs::rename(new, target).map(|()| None);
    }
    exchange(new, target, parked).map(Some)
}

/// Swaps the directories at `a` and `b` in one step where the system can
/// (`renameat2(RENAME_EXCHANGE)`, Linux 3.15+ on most file systems). Elsewhere it
/// falls back to two renames, `b` → `parked` then `a` → `b`: a run killed between
/// them leaves `b` missing, and the next run on `b` moves `parked` back.
/// Afterwards `a` (or `parked`) holds what was at `b`.
pub fn exchange(a: &Path, b: &Path, parked: &Path) -> std::io::Result<PathBuf> {
    match exchange_atomic(a, b) {
        Ok(()) => Ok(a.to_path_buf()),
        Err(e) if fallback_allowed(&e) => {
            std::fs::rename(b, parked)?;
            std::fs::rename(a, b)?;
            Ok(parked.to_path_buf())
        }
        Err(e) => Err(e),
    }
}

fn fallback_allowed(e: &std::io::Error) -> bool {
    // Not supported by the kernel or the file system (EINVAL, ENOSYS, ENOTSUP).
    matches!(e.raw_os_error(), Some(22 | 38 | 95)) || e.kind() == std::io::ErrorKind::Unsupported
}

#[cfg(target_os = "linux")]
fn exchange_atomic(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| {
        CString::new(p.as_os_str().as_bytes())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))
    };
    let (ca, cb) = (c(a)?, c(b)?);
    // SAFETY: two valid NUL-terminated paths; renameat2 reads them only.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            ca.as_ptr(),
            libc::AT_FDCWD,
            cb.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    match rc {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error()),
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange_atomic(_: &Path, _: &Path) -> std::io::Result<()> {
    Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
}
