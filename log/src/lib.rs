//! Quark's log: a durable, segmented, append-only record log for one shard.
//!
//! The log stores records, assigns them positions, makes them durable with group-committed
//! O_DIRECT writes and `fdatasync` (glommio, io_uring), reads them back zero-copy and recovers
//! after a crash. It knows nothing of actors: a record is one or more entries, each a `u16` kind
//! chosen by the owner and a payload (usually an rkyv archive).
//!
//! Positions are byte offsets in one address space per log, so lookup is O(1) within a segment;
//! they strictly increase, and compaction keeps the positions of the records it keeps. The
//! on-disk format is specified in `docs/log-format.md`.
//!
//! # Contract (API boundary for the engine and the adapters)
//! 1. If `append` resolves with a position, the record is durable: with `Durability::Fsync` it
//!    survives kill -9 and power loss (under the media assumptions of `docs/log-format.md`).
//! 2. Positions strictly increase in append order; a record keeps its position for its whole
//!    life, compaction included.
//! 3. A record's entries are recovered all or none.
//! 4. Readers (`read`, `snapshot`, `tail`) only ever return durable records, and a record they
//!    return is byte for byte what was appended (CRC-checked on every read).
//! 5. Damage that could hide acknowledged records is an error naming file, offset and position;
//!    only an unacknowledged torn tail is cut, and the cut is reported.
//! 6. A `Log` belongs to the glommio executor that opened it; one process opens a directory at
//!    a time (an exclusive `flock` on the directory itself).
//!
//! # Module map
//! - [`frame`]: the byte layout (segment header, frame, entries) and its validation. Pure.
//! - `segment`: segment file naming and listing; sealed segments read through `segment::mmap`,
//!   the only module allowed `unsafe`.
//! - `writer`: the active segment and the group-commit flusher task.
//! - `log`: the [`Log`] handle (append, read, stats, close) and the shared state.
//! - `recovery`: opening a log and applying the tail scan's decision.
//! - `scan`: the bounded-memory tail scan: torn last write (cut) or damage (error).
//! - `reader`: [`Snapshot`] iteration and the [`TailReader`].
//! - `retention`: [`Log::retire`] and [`Log::compact`].
//! - `inspect`: [`Inspector`], the read-only offline view behind the `quark-log` tool.
//! - `repair`: [`Repair`], the operator's explicit cut behind `quark-log repair`.
//! - `record`: [`RecordBuilder`], [`Record`], [`Entry`] and the rkyv helpers.
//! - [`storage`]: the storage seam ([`storage::Storage`]): the real device and the simulated
//!   one that loses un-synced writes at a seeded power loss.
//! - `dir_lock`: the exclusive lock on the log directory itself.
//! - `config`, `error`, `stats`, `notify`: settings, typed errors, counters, local wake-ups.
//!
//! # Example
//! ```no_run
//! # glommio::LocalExecutor::default().run(async {
//! use quark_log::{Config, Log, RecordBuilder};
//! #[derive(rkyv::Archive, rkyv::Serialize)]
//! struct Deposit { account: u64, cents: i64 }
//!
//! let log = Log::open("/var/lib/quark/shard-0", Config::default()).await.unwrap();
//! let mut record = RecordBuilder::new();
//! record.push(1, &Deposit { account: 7, cents: 500 }).unwrap(); // an event
//! record.push_bytes(2, b"notify account 7"); // an outbox message, same atomic commit
//! let position = log.append(&record).await.unwrap(); // durable once this resolves
//! let read = log.read(position).unwrap();
//! let first = read.entries().next().unwrap();
//! let deposit = first.access::<Deposit>().unwrap(); // zero-copy, validated
//! assert_eq!(deposit.cents, 500);
//! log.close().await.unwrap();
//! # });
//! ```

#![deny(unsafe_code)]

mod config;
mod dir_lock;
mod error;
pub mod frame;
mod inspect;
mod log;
mod notify;
mod reader;
mod record;
mod recovery;
mod repair;
mod retention;
mod scan;
mod segment;
mod stats;
pub mod storage;
mod writer;

pub use config::{Config, Durability};
pub use error::{
    AccessError, AppendError, CloseError, CompactError, CorruptReason, Corruption, IoFailure,
    OpenError, ReadError, RetireError,
};
pub use inspect::{Inspector, VerifyReport};
pub use log::{Log, Submitted};
pub use reader::{Iter, Snapshot, TailReader};
pub use record::{Entry, Record, RecordBuilder};
pub use recovery::{FORMAT_FILE, RecoveryReport, Truncation};
pub use repair::{Repair, RepairError};
pub use retention::CompactReport;
pub use stats::Stats;
