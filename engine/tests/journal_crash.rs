//! Crash test for the journal: a child process runs an engine whose event-sourced counters
//! persist from several client threads and prints every acknowledged persist; we SIGKILL it
//! at random moments over several rounds, then start an engine on the same directory and
//! check that every acknowledged event is in its stream, at its version, with its value,
//! that every stream's versions are gap-free, and that each recovered state is the fold of
//! its stream.
//!
//! The child is the `quark-journal-crash-child` binary (`tests/support/journal_crash_child.rs`).
//! Small segments make kills land during segment rolls and snapshots too.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use quark::journal::{Direction, EventSourced};
use quark::{Actor, ActorError, Builder, Context, Handler, Message};
use rand::Rng;

const SEGMENT_BYTES: u64 = 256 << 10;

fn child_path() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_quark-journal-crash-child"))
}

/// Homes actors by key alone: the child's and the checker's `Counter` types have different
/// names, and the default placement hashes the type name.
struct ByKey;

impl quark::Placement for ByKey {
    fn home(&self, actor: &quark::ActorId, shards: usize) -> usize {
        (actor.key_hash % shards.max(1) as u64) as usize
    }
}

/// The child's counter, as seen by the checker (same category and event layout).
struct Counter {
    total: u64,
}

#[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
struct Added(u64);

impl Actor for Counter {
    type Key = String;
    async fn on_activate(ctx: &mut Context<Self>) -> Result<Self, ActorError> {
        Ok(Counter {
            total: ctx.recover().await?,
        })
    }
}

impl EventSourced for Counter {
    type State = u64;
    type Event = Added;
    const CATEGORY: &'static str = "counter";
    fn apply(state: &mut u64, event: &Added) {
        *state = state.wrapping_add(event.0);
    }
    fn snapshot_every() -> Option<u64> {
        Some(64)
    }
}

struct Total;
impl Message for Total {
    type Reply = (u64, u64);
}

impl Handler<Total> for Counter {
    async fn handle(
        &mut self,
        _: Total,
        ctx: &mut Context<Self>,
    ) -> Result<(u64, u64), ActorError> {
        Ok((ctx.version(), self.total))
    }
}

/// Runs one child until a random kill; returns the acknowledged `(key, version, value)`.
fn run_child(dir: &Path, kill_after: Duration) -> Vec<(String, u64, u64)> {
    let mut child = Command::new(child_path())
        .arg(dir)
        .arg(SEGMENT_BYTES.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start quark-journal-crash-child");
    let stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut acked = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let f: Vec<&str> = line.split(' ').collect();
            // A line cut by the kill is not an acknowledgement we can rely on; skip it.
            if let [key, version, value] = f[..]
                && let (Ok(version), Ok(value)) = (version.parse(), value.parse())
            {
                acked.push((key.to_owned(), version, value));
            }
        }
        acked
    });
    std::thread::sleep(kill_after);
    child.kill().expect("SIGKILL the child");
    let status = child.wait().expect("reap the child");
    assert!(
        !status.success(),
        "the child must die from the kill: {status:?}"
    );
    reader.join().expect("stdout reader thread")
}

/// Starts an engine on `dir` and checks every acknowledgement; returns events stored.
fn check(dir: &Path, acked: &HashMap<(String, u64), u64>) -> u64 {
    let config = quark_log::Config {
        segment_bytes: SEGMENT_BYTES,
        record_bytes_max: 16 << 10,
        ..quark_log::Config::default()
    };
    let engine = Builder::new()
        .shards(2)
        .spin_before_park(None)
        .data_dir(dir)
        .log_config(config)
        .placement(ByKey)
        .register::<Counter>()
        .start()
        .expect("restart after SIGKILL");
    let journal = engine.journal();
    let mut stored = 0;
    for c in 0..6 {
        let key = format!("c{c}");
        let stream = format!("counter-{key}");
        let read = journal.read_stream(&stream, 1, Direction::Forward, usize::MAX);
        let events = futures_lite::future::block_on(read).expect("read the stream");
        let mut sum = 0u64;
        for (i, e) in events.iter().enumerate() {
            assert_eq!(e.version, i as u64 + 1, "{stream}: versions are gap-free");
            let value = e.deserialize::<Added>().expect("event decodes").0;
            if let Some(want) = acked.get(&(key.clone(), e.version)) {
                assert_eq!(value, *want, "{stream} v{}: acknowledged value", e.version);
            }
            sum = sum.wrapping_add(value);
        }
        let max_acked = acked
            .keys()
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| *v)
            .max();
        assert!(
            max_acked.is_none_or(|v| v <= events.len() as u64),
            "{stream}: acknowledged up to {max_acked:?}, stored {}",
            events.len()
        );
        let (version, total) = engine
            .actor::<Counter>(key)
            .call_blocking(Total)
            .expect("Total");
        assert_eq!(
            (version, total),
            (events.len() as u64, sum),
            "{stream}: recovered state"
        );
        stored += events.len() as u64;
    }
    engine.shutdown().expect("clean shutdown");
    stored
}

#[test]
fn sigkill_during_persists_loses_no_acknowledged_event() {
    assert!(child_path().exists(), "missing {}", child_path().display());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data");
    let mut rng = rand::rng();
    let mut acked: HashMap<(String, u64), u64> = HashMap::new();
    let rounds = 8;
    for round in 0..rounds {
        let kill_after = Duration::from_millis(rng.random_range(150..700));
        for (key, version, value) in run_child(&path, kill_after) {
            // A version acknowledged twice would mean two events shared it.
            let before = acked.insert((key.clone(), version), value);
            assert!(before.is_none(), "{key} v{version} acknowledged twice");
        }
        let stored = check(&path, &acked);
        eprintln!(
            "round {round}: {} acknowledged, {stored} stored",
            acked.len()
        );
        assert!(stored >= acked.len() as u64);
    }
    assert!(
        acked.len() > rounds * 10,
        "children must have acknowledged persists"
    );
}
