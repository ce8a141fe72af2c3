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

/// How the harness reaches the peers' servers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// Their unix sockets: what an application on the same host uses (the default).
    Socket,
    /// TCP on 127.0.0.1 (`--tcp`).
    Tcp,
}

/// PostgreSQL's socket directory on Debian, where `scripts/services.sh` finds it.
pub const POSTGRES_SOCKET_DIR: &str = "/var/run/postgresql";

/// The Redis socket `scripts/services.sh` starts Redis with.
pub const REDIS_SOCKET: &str = "/var/tmp/quark-redis/redis.sock";

/// Where the peers live; overridable through `QUARK_PG_URL` and `QUARK_REDIS_URL`.
#[derive(Clone, Debug)]
pub struct Endpoints {
    /// PostgreSQL connection string.
    pub postgres: String,
    /// Redis URL.
    pub redis: String,
}

impl Endpoints {
    /// The defaults of `scripts/services.sh` over unix sockets, unless the environment
    /// overrides them.
    pub fn from_env() -> Endpoints {
        Endpoints::for_transport(Transport::Socket)
    }

    /// The defaults of `scripts/services.sh` over `transport`, unless the environment
    /// overrides them.
    pub fn for_transport(transport: Transport) -> Endpoints {
        let (postgres, redis) = match transport {
            Transport::Socket => (
                format!("host={POSTGRES_SOCKET_DIR} user=quark password=quark dbname=quark"),
                format!("redis+unix://{REDIS_SOCKET}"),
            ),
            Transport::Tcp => (
                "postgres://quark:quark@127.0.0.1:5432/quark".to_owned(),
                "redis://127.0.0.1:6399/".to_owned(),
            ),
        };
        Endpoints {
            postgres: std::env::var("QUARK_PG_URL").unwrap_or(postgres),
            redis: std::env::var("QUARK_REDIS_URL").unwrap_or(redis),
        }
    }

    /// How a system of the run is reached, for the notes: a peer server's socket or TCP
    /// address, or "in this process" for a library.
    pub fn where_runs(&self, system: &str) -> String {
        let threads = crate::peers::tokio_thread::workers();
        let client =
            |lib: &str| format!("{lib} on a {threads}-worker tokio runtime in this process");
        match system {
            "postgres" => format!(
                "its own server processes, reached over {} by {}",
                link(&self.postgres),
                client("tokio-postgres")
            ),
            "redis" => format!(
                "its own server process, reached over {} by {}",
                link(&self.redis),
                client("redis-rs")
            ),
            "actix" => "a library in this process (an actix System on the caller's thread; \
                        the cross-core actor in its own Arbiter thread)"
                .to_owned(),
            "ractor" => "a library in this process (a current-thread tokio runtime; the \
                         cross-core actor on a second runtime thread)"
                .to_owned(),
            _ => "a library in this process".to_owned(),
        }
    }
}

/// "the unix socket …" or "TCP …" for a PostgreSQL connection string or Redis URL.
fn link(url: &str) -> String {
    if let Some(path) = url
        .strip_prefix("redis+unix://")
        .or(url.strip_prefix("unix://"))
    {
        return format!("the unix socket {path}");
    }
    if let Some(dir) = url
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("host="))
        .filter(|h| h.starts_with('/'))
    {
        return format!("the unix socket in {dir}");
    }
    let host = url.split('@').nth(1).unwrap_or(url);
    let host = host.split('/').find(|s| !s.is_empty() && !s.ends_with(':'));
    format!("TCP ({})", host.unwrap_or(url))
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
    /// Where Quark's side runs, for the notes (e.g. "in this process, on its shard thread").
    fn quark_runs(&self) -> &'static str {
        "in this process, on the harness's thread (pure computation, no I/O)"
    }
}
