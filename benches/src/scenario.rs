//! The scenario contract and what a scenario hands back.
//!
//! Contract for every [`Scenario`]:
//! 1. `run` measures Quark and every peer in this process, in this run; a peer that cannot run
//!    yields `Figure::Unavailable(why)` and the scenario goes on.
//! 2. Each system's work is counted and hashed into [`Outcome::work`], so a test can check that
//!    every system really did something and the work cannot be optimized away.
//! 3. Durability claims are checked, not assumed, and the check is written into `notes`.
//! 4. No timing is asserted anywhere; sizes come from [`Size`].
use crate::progress::Progress;
use crate::report::{Figure, Row};
use crate::size::Size;
use crate::work::WorkHash;

/// Where the peers live; overridable through `QUARK_PG_URL` and `QUARK_REDIS_URL`.
#[derive(Clone, Debug)]
pub struct Endpoints {
    /// PostgreSQL connection string.
    pub postgres: String,
    /// Redis URL.
    pub redis: String,
}

impl Endpoints {
    /// The defaults of `scripts/services.sh`, unless the environment overrides them.
    pub fn from_env() -> Endpoints {
        Endpoints {
            postgres: std::env::var("QUARK_PG_URL")
                .unwrap_or_else(|_| "postgres://quark:quark@127.0.0.1:5432/quark".to_owned()),
            redis: std::env::var("QUARK_REDIS_URL")
                .unwrap_or_else(|_| "redis://127.0.0.1:6399/".to_owned()),
        }
    }
}

/// What a scenario gets to run with.
#[derive(Debug)]
pub struct Ctx<'a> {
    /// How big the run is.
    pub size: Size,
    /// Where the peers live.
    pub endpoints: &'a Endpoints,
    /// Where progress goes.
    pub progress: &'a Progress,
}

/// One system's share of the work: how many operations, and their digest.
#[derive(Clone, Debug)]
pub struct Work {
    /// The system, e.g. `quark`, `postgres`.
    pub system: String,
    /// Operations done (appends, records read, messages, activations, …).
    pub ops: u64,
    /// Digest of the results those operations returned.
    pub hash: WorkHash,
}

/// What a scenario hands back.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// The report rows.
    pub rows: Vec<Row>,
    /// Each system's work, for the run hash and for tests.
    pub work: Vec<Work>,
    /// Statements printed under the table: durability checks, settings read back, caveats.
    pub notes: Vec<String>,
}

impl Outcome {
    /// The digest of all systems' work in this scenario.
    pub fn hash(&self) -> WorkHash {
        let mut h = WorkHash::default();
        for w in &self.work {
            h.add_bytes(w.system.as_bytes());
            h.add(w.ops);
            h.add(w.hash.value());
        }
        h
    }

    /// Every (system, reason) that was unavailable in any row, ours included.
    pub fn unavailable(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for row in &self.rows {
            if let Figure::Unavailable(why) = &row.ours {
                out.push(("quark".to_owned(), why.clone()));
            }
            for (name, fig) in &row.peers {
                if let Figure::Unavailable(why) = fig {
                    out.push((name.clone(), why.clone()));
                }
            }
        }
        out.dedup();
        out
    }
}

/// A benchmark scenario: one module under `scenarios/`, one line in the registry.
pub trait Scenario {
    /// The stable name, e.g. `log.append` (never renamed: tools read it).
    fn name(&self) -> &'static str;
    /// One sentence: what it measures and how.
    fn describe(&self) -> &'static str;
    /// Runs Quark and every peer once at `ctx.size`.
    fn run(&self, ctx: &Ctx<'_>) -> Outcome;
}
