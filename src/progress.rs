//! The one place that builds progress bars: shown on a terminal, hidden otherwise.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::cell::Cell;
use std::io::IsTerminal;

/// Progress over the input bytes, with a running row count.
pub struct Progress {
    bar: ProgressBar,
    rows: Cell<u64>,
    /// Bytes of the current file already counted (`file_at`).
    in_file: Cell<u64>,
}

impl Progress {
    pub fn new(total_bytes: u64, quiet: bool) -> Progress {
        let bar = if quiet || !std::io::stderr().is_terminal() {
            ProgressBar::with_draw_target(Some(total_bytes), ProgressDrawTarget::hidden())
        } else {
            ProgressBar::new(total_bytes)
        };
        let style = ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {bytes}/{total_bytes} ({bytes_per_sec}, {eta}) {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        Progress {
            bar,
            rows: Cell::new(0),
            in_file: Cell::new(0),
        }
    }

    /// The current file has been read up to `consumed` bytes (as stored).
    pub fn file_at(&self, consumed: u64) {
        let done = self.in_file.get();
        if consumed > done {
            self.bar.inc(consumed - done);
            self.in_file.set(consumed);
        }
    }

    pub fn add_rows(&self, rows: u64) {
        self.rows.set(self.rows.get() + rows);
        self.bar.set_message(format!("{} rows", self.rows.get()));
    }

    /// The current file (of `bytes`) is read: what `file_at` has not counted yet.
    pub fn file_done(&self, bytes: u64) {
        self.bar.inc(bytes.saturating_sub(self.in_file.get()));
        self.in_file.set(0);
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// Progress of downloads: bytes as they arrive, against the lengths announced so far
/// (each response's Content-Length is added when it comes), with rate and ETA.
pub struct Download {
    bar: ProgressBar,
}

impl Download {
    pub fn new(quiet: bool) -> Download {
        let bar = if quiet || !std::io::stderr().is_terminal() {
            ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::hidden())
        } else {
            ProgressBar::new(0)
        };
        let style = ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {bytes}/{total_bytes} ({bytes_per_sec}, {eta}) {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        Download { bar }
    }

    /// A file starts: its name, and its length if the server said.
    pub fn start(&self, name: &str, length: Option<u64>) {
        self.bar.set_message(name.to_string());
        if let Some(n) = length {
            self.bar.inc_length(n);
        }
    }

    pub fn add(&self, bytes: u64) {
        self.bar.inc(bytes);
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
