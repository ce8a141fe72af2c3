//! The harness's typed errors.
//!
//! Invariant: a peer that cannot run is never an `Error` (it becomes an "unavailable" cell in the
//! report); an `Error` stops the run and means the harness itself could not do its job.
use std::path::PathBuf;

/// Why the harness could not do its job.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A scenario name given on the command line matches no registered scenario.
    #[error("unknown scenario {name:?}; known scenarios: {known}")]
    UnknownScenario {
        /// The name as given.
        name: String,
        /// The registered names, comma-separated.
        known: String,
    },
    /// The command line could not be understood.
    #[error("{0}")]
    Usage(String),
    /// Writing an output file failed.
    #[error("writing {path}: {source}")]
    Write {
        /// The file being written.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Encoding the JSON report failed.
    #[error("encoding the JSON report: {0}")]
    Json(#[from] serde_json::Error),
    /// Drawing the SVG report failed.
    #[error("drawing the SVG report {path}: {reason}")]
    Svg {
        /// The file being drawn.
        path: PathBuf,
        /// What plotters said.
        reason: String,
    },
}
