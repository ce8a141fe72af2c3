//! The one registry of record-kind namespaces: which component owns which log entry kinds.
//!
//! A log entry's kind is a `u16`; its high byte names the namespace, so each component owns
//! 256 kinds (`0xNN00..=0xNNff`). The registry below is the only place that hands namespaces
//! out, and ARCHITECTURE.md lists it. Namespace `0x00` belongs to no component: the core
//! never dispatches it (the log's own tests and tools use it).
//!
//! Invariants (checked by the tests below): namespaces are unique and never `0x00`; every
//! kind a component declares lies inside its namespace; a kind, once written to a log, keeps
//! its meaning forever (new layouts get new kinds).

/// A component's namespace of record kinds: every kind whose high byte is `id`.
///
/// ```
/// use quark::durable::kinds;
/// assert!(kinds::JOURNAL.contains(0x0101));
/// assert!(!kinds::JOURNAL.contains(0x0201));
/// assert_eq!(kinds::of(0x0502), Some(kinds::TIMERS));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Namespace {
    /// The component's name (for logs and errors).
    pub name: &'static str,
    /// The high byte shared by all its kinds.
    pub id: u8,
}

impl Namespace {
    /// The `n`-th kind of this namespace.
    pub const fn kind(self, n: u8) -> u16 {
        ((self.id as u16) << 8) | n as u16
    }

    /// Whether `kind` belongs to this namespace.
    pub const fn contains(self, kind: u16) -> bool {
        (kind >> 8) as u8 == self.id
    }
}

/// Event streams, snapshots, tombstones, projection checkpoints (`journal/`).
pub const JOURNAL: Namespace = Namespace {
    name: "journal",
    id: 0x01,
};
/// Durable jobs (`jobs/`, issue "Durable jobs").
pub const JOBS: Namespace = Namespace {
    name: "jobs",
    id: 0x02,
};
/// Outgoing messages and inbox deduplication (`outbox/`).
pub const OUTBOX: Namespace = Namespace {
    name: "outbox",
    id: 0x03,
};
/// Durable tasks (orchestration histories, `tasks/`).
pub const TASKS: Namespace = Namespace {
    name: "tasks",
    id: 0x04,
};
/// Durable timers (`timers/`).
pub const TIMERS: Namespace = Namespace {
    name: "timers",
    id: 0x05,
};
/// Homes of actors and streams that moved (shard-count changes, migration).
pub const DIRECTORY: Namespace = Namespace {
    name: "directory",
    id: 0x06,
};
/// Consumer checkpoints of the feed (adapters, remote subscribers).
pub const CHECKPOINTS: Namespace = Namespace {
    name: "checkpoints",
    id: 0x07,
};

/// Every namespace handed out, in id order.
pub const REGISTRY: &[Namespace] = &[JOURNAL, JOBS, OUTBOX, TASKS, TIMERS, DIRECTORY, CHECKPOINTS];

/// The registered namespace owning `kind`, if any.
pub fn of(kind: u16) -> Option<Namespace> {
    REGISTRY.iter().copied().find(|n| n.contains(kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_are_unique_ordered_and_not_zero() {
        for pair in REGISTRY.windows(2) {
            assert!(pair[0].id < pair[1].id, "{pair:?} out of order or repeated");
        }
        let mut names: Vec<&str> = REGISTRY.iter().map(|n| n.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), REGISTRY.len(), "names are unique");
        assert!(REGISTRY.iter().all(|n| n.id != 0), "0x00 is nobody's");
        assert_eq!(of(0x0042), None);
        assert_eq!(of(0x01ff), Some(JOURNAL));
        assert_eq!(JOBS.kind(3), 0x0203);
    }
}
