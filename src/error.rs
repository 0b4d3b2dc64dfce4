//! Fatal errors: problems with the run itself, each saying what to fix.
//!
//! A bad usage row is never an `Error`: it becomes a reject. These are the problems
//! that stop a run with exit code 2 and no reports. One enum for the whole crate:
//! I/O and parser failures keep their cause (`source()`), and a place in an input
//! is printed one way, `file:line` for a line of text and `file row N, column "c"`
//! for a table row (see `Locus`).

use std::path::PathBuf;

/// A failure underneath an error, kept for `std::error::Error::source`.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Where in a file a problem is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Locus {
    /// A line of a text file (1-based).
    Line(u64),
    /// A data row of a table (1-based, the header not counted), maybe a column.
    Row { row: u64, column: Option<String> },
}

impl std::fmt::Display for Locus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Locus::Line(n) => write!(f, ":{n}"),
            Locus::Row { row, column: None } => write!(f, " row {row}"),
            Locus::Row {
                row,
                column: Some(c),
            } => write!(f, " row {row}, column \"{c}\""),
        }
    }
}

/// `path` and, when known, the place in it.
fn place(path: &std::path::Path, at: &Option<Locus>) -> String {
    match at {
        None => path.display().to_string(),
        Some(at) => format!("{}{at}", path.display()),
    }
}

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

    #[error("{}: cannot read input: {message}", place(path, at))]
    Input {
        path: PathBuf,
        at: Option<Locus>,
        message: String,
        #[source]
        source: Option<Cause>,
    },

    #[error("{}: cannot write output: {message}", path.display())]
    Output {
        path: PathBuf,
        message: String,
        #[source]
        source: Option<Cause>,
    },
}

impl Error {
    /// An input that failed to read, keeping the failure as the source.
    pub fn input(
        path: impl Into<PathBuf>,
        e: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        Error::Input {
            path: path.into(),
            at: None,
            message: e.to_string(),
            source: Some(Box::new(e)),
        }
    }

    /// An input problem found by billrun itself (no underlying failure).
    pub fn input_msg(path: impl Into<PathBuf>, message: impl Into<String>) -> Error {
        Error::Input {
            path: path.into(),
            at: None,
            message: message.into(),
            source: None,
        }
    }

    /// An input problem at a place in the file.
    pub fn input_at(path: impl Into<PathBuf>, at: Locus, message: impl Into<String>) -> Error {
        Error::Input {
            path: path.into(),
            at: Some(at),
            message: message.into(),
            source: None,
        }
    }

    /// An output that failed to write, keeping the failure as the source.
    pub fn output(
        path: impl Into<PathBuf>,
        e: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        Error::Output {
            path: path.into(),
            message: e.to_string(),
            source: Some(Box::new(e)),
        }
    }

    /// An output problem found by billrun itself.
    pub fn output_msg(path: impl Into<PathBuf>, message: impl Into<String>) -> Error {
        Error::Output {
            path: path.into(),
            message: message.into(),
            source: None,
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
    use super::*;

    #[test]
    fn places_print_one_way_and_causes_are_kept() {
        let line = Error::input_at("p.csv", Locus::Line(3), "bad arn");
        assert_eq!(line.to_string(), "p.csv:3: cannot read input: bad arn");
        let cell = Locus::Row {
            row: 2,
            column: Some("end".into()),
        };
        let cell = Error::input_at("pt.csv", cell, "empty");
        assert_eq!(
            cell.to_string(),
            "pt.csv row 2, column \"end\": cannot read input: empty"
        );
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "gone");
        let e = Error::input("u.csv", io);
        let source = std::error::Error::source(&e).map(|s| s.to_string());
        assert_eq!(source.as_deref(), Some("gone"));
        assert!(std::error::Error::source(&Error::input_msg("u.csv", "x")).is_none());
    }

    #[test]
    fn long_quotes_are_clipped_on_a_character_boundary() {
        assert_eq!(super::clip("short"), "short");
        let long = "é".repeat(300);
        let clipped = super::clip(&long);
        assert!(clipped.starts_with(&"é".repeat(200)));
        assert!(clipped.ends_with("... (200 more bytes)"), "{clipped}");
    }
}
