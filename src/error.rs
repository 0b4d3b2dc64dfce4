//! Fatal errors: problems with the run itself, each saying what to fix.
//!
//! A bad usage row is never an `Error`: it becomes a reject. These are the problems
//! that stop a run with exit code 2 and no reports.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Usage(String),

    #[error("price catalog is invalid:\n  {}", .0.join("\n  "))]
    Catalog(Vec<String>),

    #[error("{}: missing required column \"{column}\" (found: {found})", path.display())]
    MissingColumn {
        path: PathBuf,
        column: String,
        found: String,
    },

    #[error("{}: cannot read input: {message}", path.display())]
    Input { path: PathBuf, message: String },

    #[error("{}: cannot write output: {message}", path.display())]
    Output { path: PathBuf, message: String },
}

impl Error {
    pub fn input(path: impl Into<PathBuf>, e: impl std::fmt::Display) -> Error {
        Error::Input {
            path: path.into(),
            message: e.to_string(),
        }
    }

    pub fn output(path: impl Into<PathBuf>, e: impl std::fmt::Display) -> Error {
        Error::Output {
            path: path.into(),
            message: e.to_string(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Longest text quoted from input in a message (a header, a value, a path).
pub const QUOTE_LIMIT: usize = 200;

/// `text`, cut to `QUOTE_LIMIT` characters with how much was left out, so that a
/// 50 MB header line is not echoed whole.
pub fn clip(text: &str) -> String {
    match text.char_indices().nth(QUOTE_LIMIT) {
        None => text.to_string(),
        Some((end, _)) => format!("{}... ({} more bytes)", &text[..end], text.len() - end),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn long_quotes_are_clipped_on_a_character_boundary() {
        assert_eq!(super::clip("short"), "short");
        let long = "é".repeat(300);
        let clipped = super::clip(&long);
        assert!(clipped.starts_with(&"é".repeat(200)));
        assert!(clipped.ends_with("... (200 more bytes)"), "{clipped}");
    }
}
