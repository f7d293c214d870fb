//! [`StoreError`]: every way opening, writing or reading the store can fail, each saying which
//! file and what, so the daemon and CLI can print it as is.

use std::fmt;
use std::path::PathBuf;

/// Why a store operation failed. No variant ever carries key material.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// The file does not exist and the caller asked not to create it.
    Missing { path: PathBuf },
    /// The file could not be opened or created (permissions, a directory, …).
    Open { path: PathBuf, source: rusqlite::Error },
    /// The file exists but is not a usable zigtrust store: not SQLite at all, a SQLite database
    /// of another application, or damaged (e.g. truncated).
    NotAStore { path: PathBuf, reason: String },
    /// The store was written by a newer zigtrust (schema version `found` > `supported`); opening
    /// it with this one could lose data, so we refuse.
    NewerSchema { path: PathBuf, found: i64, supported: i64 },
    /// A value read back is invalid (wrong key length, unknown enum name, out-of-range number).
    /// `what` names the file, table, row and column.
    Corrupt { what: String },
    /// A batch was refused (a value that cannot be stored or a broken invariant); the whole
    /// batch was rolled back. `what` says which write and why.
    Rejected { what: String },
    /// Any other SQLite failure (I/O error, disk full, locked) during `op`.
    Sqlite { path: PathBuf, op: &'static str, source: rusqlite::Error },
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Missing { path } => {
                write!(f, "{}: no such store (file does not exist)", path.display())
            }
            StoreError::Open { path, source } => {
                write!(f, "{}: cannot open store: {source}", path.display())
            }
            StoreError::NotAStore { path, reason } => {
                write!(f, "{}: not a zigtrust store: {reason}", path.display())
            }
            StoreError::NewerSchema { path, found, supported } => write!(
                f,
                "{}: store schema version {found} is newer than this zigtrust supports \
                 ({supported}); upgrade zigtrust",
                path.display()
            ),
            StoreError::Corrupt { what } => write!(f, "corrupt store: {what}"),
            StoreError::Rejected { what } => write!(f, "write rejected, batch rolled back: {what}"),
            StoreError::Sqlite { path, op, source } => {
                write!(f, "{}: {op} failed: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::Open { source, .. } | StoreError::Sqlite { source, .. } => Some(source),
            _ => None,
        }
    }
}
