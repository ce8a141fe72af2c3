//! The data directory's layout record: how many shards wrote it, with which homing hash, and
//! whether any stream may live away from its home.
//!
//! A history sits in the log of the shard that was its home when it was written; a home is
//! `hash(...) mod shards`. Both the hash ([`HASH_VERSION`]) and the shard count are therefore
//! facts about the data, recorded in `<data_dir>/quark-layout` and checked at every start.
//!
//! The file is a few `key value` lines (text, so an operator can read it):
//!
//! ```text
//! format 1
//! hash xxh64-v1
//! shards 3
//! logs 3
//! moved 1
//! ```
//!
//! - `shards`: the shard count of the last start. `logs`: how many `shard-N` logs the
//!   directory holds (the highest count it ever ran with). A start with fewer shards than
//!   logs is refused ([`LayoutError::Shrunk`]) rather than hide those logs' history.
//! - `moved`: 1 once the directory was ever started with another shard count or hash (or
//!   held data from before this file existed): streams may then have history on a shard that
//!   is no longer their home, and a writer that meets a stream new to its shard asks the
//!   others first (see `journal/homes.rs`). It never goes back to 0: history stays where it
//!   was written.
//!
//! Invariants: the file is replaced atomically (written to a temporary file, fsynced, renamed
//! over the old one, directory fsynced), so a crash leaves the old or the new record, never
//! a torn one; it is written before any shard opens its log. This runs on the starting
//! thread, not on a shard, so its blocking `std::fs` calls stall no shard.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::stable_hash::HASH_VERSION;

/// The file's name inside the data directory.
pub(crate) const FILE_NAME: &str = "quark-layout";
const FORMAT: u32 = 1;

/// What the layout file says (or will say).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Layout {
    pub hash: String,
    pub shards: usize,
    pub logs: usize,
    pub moved: bool,
}

/// Why the data directory's layout record could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LayoutError {
    /// Reading, writing or syncing the layout file failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The directory holds more shard logs than the engine would run shards: their history
    /// would be hidden and their streams could fork. Start with at least `logs` shards.
    #[error(
        "the data directory holds {logs} shard logs; start with at least {logs} shards \
         (a smaller shard count cannot serve them yet)"
    )]
    Shrunk {
        /// Shard logs in the directory.
        logs: usize,
        /// The shard count asked for.
        shards: usize,
    },
    /// The file is not a layout this build understands.
    #[error("{path}: {reason}")]
    Invalid {
        /// The layout file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

/// Equal when the same kind of failure renders the same (`io::Error` has no equality).
impl PartialEq for LayoutError {
    fn eq(&self, other: &Self) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
            && self.to_string() == other.to_string()
    }
}

impl Eq for LayoutError {}

fn io(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> LayoutError {
    let path = path.to_path_buf();
    move |source| LayoutError::Io { op, path, source }
}

/// Reads `dir`'s layout, `None` if the file does not exist.
pub(crate) fn read(dir: &Path) -> Result<Option<Layout>, LayoutError> {
    let path = dir.join(FILE_NAME);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io("read", &path)(e)),
    };
    parse(&text)
        .map(Some)
        .map_err(|reason| LayoutError::Invalid { path, reason })
}

fn parse(text: &str) -> Result<Layout, String> {
    let (mut format, mut hash, mut shards, mut logs, mut moved) = (None, None, None, None, None);
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let Some((key, value)) = line.split_once(' ') else {
            return Err(format!("line {line:?} is not `key value`"));
        };
        let number = || value.parse::<usize>().map_err(|e| format!("{key}: {e}"));
        match key {
            "format" => format = Some(number()?),
            "hash" => hash = Some(value.to_owned()),
            "shards" => shards = Some(number()?),
            "logs" => logs = Some(number()?),
            "moved" => moved = Some(number()? != 0),
            _ => return Err(format!("unknown key {key:?}")),
        }
    }
    if format != Some(FORMAT as usize) {
        return Err(format!(
            "format {format:?}, this build reads format {FORMAT}"
        ));
    }
    match (hash, shards, logs, moved) {
        (Some(hash), Some(shards), Some(logs), Some(moved)) => Ok(Layout {
            hash,
            shards,
            logs,
            moved,
        }),
        _ => Err("a key is missing".to_owned()),
    }
}

fn render(layout: &Layout) -> String {
    format!(
        "format {FORMAT}\nhash {}\nshards {}\nlogs {}\nmoved {}\n",
        layout.hash,
        layout.shards,
        layout.logs,
        u8::from(layout.moved)
    )
}

/// Replaces `dir`'s layout file atomically and durably.
pub(crate) fn write(dir: &Path, layout: &Layout) -> Result<(), LayoutError> {
    let path = dir.join(FILE_NAME);
    let temp = dir.join(format!("{FILE_NAME}.tmp"));
    let mut file = fs::File::create(&temp).map_err(io("create", &temp))?;
    file.write_all(render(layout).as_bytes())
        .map_err(io("write", &temp))?;
    file.sync_all().map_err(io("fsync", &temp))?;
    drop(file);
    fs::rename(&temp, &path).map_err(io("rename", &path))?;
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("fsync", dir))
}

/// The `shard-N` logs `dir` holds: one more than the highest `N` found (0 if none).
fn logs_in(dir: &Path) -> Result<usize, LayoutError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(io("list", dir)(e)),
    };
    let mut logs = 0;
    for entry in entries {
        let entry = entry.map_err(io("list", dir))?;
        let name = entry.file_name();
        let n = name.to_str().and_then(|n| n.strip_prefix("shard-"));
        if let Some(n) = n.and_then(|n| n.parse::<usize>().ok()) {
            logs = logs.max(n + 1);
        }
    }
    Ok(logs)
}

/// Reads `dir`'s layout, decides the one this start runs with (`shards` shards, this build's
/// hash), and records it before any log opens. Returns the new layout.
pub(crate) fn open(dir: &Path, shards: usize) -> Result<Layout, LayoutError> {
    fs::create_dir_all(dir).map_err(io("create", dir))?;
    let found = read(dir)?;
    let logs = logs_in(dir)?;
    let moved = match &found {
        Some(old) => old.moved || old.shards != shards || old.hash != HASH_VERSION,
        // Logs written before this file existed were homed with `DefaultHasher`.
        None => logs > 0,
    };
    let logs = logs.max(found.as_ref().map_or(0, |old| old.logs));
    if logs > shards {
        return Err(LayoutError::Shrunk { logs, shards });
    }
    let layout = Layout {
        hash: HASH_VERSION.to_owned(),
        shards,
        logs: logs.max(shards),
        moved,
    };
    if found.as_ref() != Some(&layout) {
        write(dir, &layout)?;
    }
    Ok(layout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_directory_is_settled_and_a_new_shard_count_is_remembered_as_moved() {
        let dir = tempfile::tempdir().unwrap();
        let first = open(dir.path(), 2).unwrap();
        assert_eq!(first.shards, 2);
        assert!(!first.moved);
        assert_eq!(read(dir.path()).unwrap(), Some(first.clone()));
        assert_eq!(
            open(dir.path(), 2).unwrap(),
            first,
            "same layout: unchanged"
        );
        let grown = open(dir.path(), 3).unwrap();
        assert!(grown.moved);
        assert_eq!(grown.logs, 3);
        let shrunk = open(dir.path(), 2);
        assert!(
            matches!(shrunk, Err(LayoutError::Shrunk { logs: 3, shards: 2 })),
            "{shrunk:?}"
        );
        let text = fs::read_to_string(dir.path().join(FILE_NAME)).unwrap();
        assert_eq!(
            text, "format 1\nhash xxh64-v1\nshards 3\nlogs 3\nmoved 1\n",
            "a refused start leaves the record alone"
        );
        assert!(!dir.path().join("quark-layout.tmp").exists());
    }

    #[test]
    fn logs_from_before_the_layout_file_count_as_moved() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("shard-0")).unwrap();
        fs::create_dir_all(dir.path().join("shard-3")).unwrap();
        let layout = open(dir.path(), 4).unwrap();
        assert!(layout.moved);
        assert_eq!(layout.logs, 4);
    }

    #[test]
    fn a_damaged_file_is_a_typed_error() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(FILE_NAME), "format 9\n").unwrap();
        assert!(matches!(
            open(dir.path(), 1),
            Err(LayoutError::Invalid { .. })
        ));
    }
}
