//! Tests of the durable core on a real log: the registry check at open, one apply path (live
//! and at reopen give the same state), one-record atomicity across two components (also when
//! power is lost in the middle of the record's write), refused commits and cancelled ones.
//!
//! How: two toy machines in the JOBS and OUTBOX namespaces record which commit ids they saw;
//! "power loss" rebuilds the segment file with each 512-byte sector either before or after
//! the last commit's write (the log's sector-atomicity assumption), then reopens.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::future::Future;
use std::path::Path;
use std::rc::Rc;

use quark_log::{Config, Log, Record};

use super::*;

const A: u16 = kinds::JOBS.kind(1);
const B: u16 = kinds::OUTBOX.kind(1);

/// Remembers the ids (first 8 bytes of each entry of `kind`) it applied.
struct Toy {
    namespace: kinds::Namespace,
    kind: u16,
    ids: BTreeSet<u64>,
    records: u64,
}

impl Toy {
    fn new(namespace: kinds::Namespace, kind: u16) -> Rc<RefCell<Toy>> {
        Rc::new(RefCell::new(Toy {
            namespace,
            kind,
            ids: BTreeSet::new(),
            records: 0,
        }))
    }
}

impl StateMachine for Toy {
    fn namespace(&self) -> kinds::Namespace {
        self.namespace
    }
    fn kinds(&self) -> &'static [u16] {
        match self.namespace {
            n if n == kinds::JOBS => &[A],
            _ => &[B],
        }
    }
    fn apply(&mut self, record: &Record, _: &mut Effects) {
        self.records += 1;
        for e in record.entries().filter(|e| e.kind == self.kind) {
            let id = u64::from_le_bytes(e.payload[..8].try_into().unwrap());
            assert!(self.ids.insert(id), "applied twice: {id}");
        }
    }
}

/// A machine declaring a kind outside its namespace.
struct Liar;
impl StateMachine for Liar {
    fn namespace(&self) -> kinds::Namespace {
        kinds::TASKS
    }
    fn kinds(&self) -> &'static [u16] {
        &[0x0101]
    }
    fn apply(&mut self, _: &Record, _: &mut Effects) {}
}

fn config() -> Config {
    Config {
        segment_bytes: 256 << 10,
        record_bytes_max: 16 << 10,
        ..Config::default()
    }
}

fn run<F: Future<Output = ()> + 'static>(f: impl FnOnce() -> F + Send + 'static) {
    glommio::LocalExecutorBuilder::default()
        .io_memory(256 << 10)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap();
}

type Toys = (Rc<RefCell<Toy>>, Rc<RefCell<Toy>>);

async fn open(dir: &Path) -> (Core, Toys) {
    let log = Log::open(dir, config()).await.unwrap();
    let (a, b) = (Toy::new(kinds::JOBS, A), Toy::new(kinds::OUTBOX, B));
    let (core, _) = Core::open(log, vec![a.clone(), b.clone()]).unwrap();
    (core, (a, b))
}

/// One commit with an entry for each toy, padded so the record spans several sectors.
fn both(id: u64, pad: usize) -> Commit {
    let mut c = Commit::new();
    let mut payload = id.to_le_bytes().to_vec();
    payload.resize(8 + pad, 0xab);
    c.push(A, &payload);
    c.push(B, &payload);
    c
}

#[test]
fn open_refuses_machines_outside_the_registry_rules() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    run(move || async move {
        let log = Log::open(&path, config()).await.unwrap();
        let twice: Vec<Shared> = vec![Toy::new(kinds::JOBS, A), Toy::new(kinds::JOBS, A)];
        let e = Core::open(log.clone(), twice).err().unwrap();
        assert!(e.to_string().contains("two machines"), "{e}");
        let e = Core::open(log.clone(), vec![Rc::new(RefCell::new(Liar))])
            .err()
            .unwrap();
        assert!(e.to_string().contains("outside the namespace"), "{e}");
        let stranger = kinds::Namespace {
            name: "x",
            id: 0x7f,
        };
        let e = Core::open(log.clone(), vec![Toy::new(stranger, 0x7f01)])
            .err()
            .unwrap();
        assert!(e.to_string().contains("not in the kind registry"), "{e}");
        log.close().await.unwrap();
    });
}

#[test]
fn live_apply_and_reopen_scan_give_the_same_state() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    run(move || async move {
        let (core, (a, b)) = open(&path).await;
        for id in 0..20 {
            core.commit(both(id, 0)).await.unwrap();
            assert!(
                a.borrow().ids.contains(&id),
                "applied before commit resolves"
            );
            assert!(b.borrow().ids.contains(&id));
        }
        // An entry of nobody's namespace reaches no machine.
        let mut raw = Commit::new();
        raw.record.push_bytes(0x0001, b"raw");
        core.commit(raw).await.unwrap();
        let live = (a.borrow().ids.clone(), a.borrow().records);
        core.close().await.unwrap();
        let (core, (a2, b2)) = open(&path).await;
        assert_eq!((a2.borrow().ids.clone(), a2.borrow().records), live);
        assert_eq!(b2.borrow().ids, live.0);
        core.close().await.unwrap();
    });
}

#[test]
fn a_refused_commit_runs_its_undo_and_reaches_no_machine() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    run(move || async move {
        let (core, (a, b)) = open(&path).await;
        let undone = Rc::new(RefCell::new(false));
        let mut big = both(1, 32 << 10);
        let flag = undone.clone();
        big.on_refused(move || *flag.borrow_mut() = true);
        let err = core.submit(big).err().unwrap();
        assert!(
            matches!(err, quark_log::AppendError::TooLarge { .. }),
            "{err}"
        );
        assert!(*undone.borrow());
        core.settle();
        assert!(a.borrow().ids.is_empty() && b.borrow().ids.is_empty());
        core.close().await.unwrap();
    });
}

#[test]
fn a_dropped_ticket_still_applies_once_durable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    run(move || async move {
        let (core, (a, b)) = open(&path).await;
        let ticket = core.submit(both(7, 0)).unwrap();
        let end = core.log().durable_end();
        drop(ticket);
        // Nobody awaits the commit: the core's settler applies it once durable.
        for _ in 0..1000 {
            if a.borrow().ids.contains(&7) {
                break;
            }
            glommio::timer::sleep(std::time::Duration::from_millis(1)).await;
        }
        assert!(core.log().durable_end() > end);
        assert!(
            a.borrow().ids.contains(&7),
            "applied without an awaiting committer"
        );
        assert!(b.borrow().ids.contains(&7));
        core.close().await.unwrap();
    });
}

fn segment(dir: &Path) -> std::path::PathBuf {
    let mut segs: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    segs.sort();
    segs.pop().unwrap()
}

/// Power lost while the last commit's record was being written: each sector of the write is
/// old or new at random. Both components see that commit, or neither does; every earlier
/// commit is seen by both.
#[test]
fn one_commit_across_two_components_survives_power_loss_whole_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("log");
    let path = base.clone();
    run(move || async move {
        let (core, _) = open(&path).await;
        for id in 0..10 {
            core.commit(both(id, 100)).await.unwrap();
        }
        core.close().await.unwrap();
    });
    let seg = segment(&base);
    let before = std::fs::read(&seg).unwrap();
    let path = base.clone();
    run(move || async move {
        let (core, _) = open(&path).await;
        // ~6 KiB: entry A in the first sectors, entry B in the last ones.
        core.commit(both(10, 3000)).await.unwrap();
        core.close().await.unwrap();
    });
    let after = std::fs::read(&seg).unwrap();
    let (mut whole, mut none) = (0, 0);
    let mut rng = rand::rng();
    for trial in 0..24u64 {
        let mut torn = after.clone();
        for (i, sector) in torn.chunks_mut(512).enumerate() {
            let range = i * 512..(i * 512 + sector.len());
            // Trial 0: the write landed whole; trial 1: not at all; others: sector by sector.
            let keep_old = match trial {
                0 => false,
                1 => true,
                _ => rand::Rng::random_bool(&mut rng, 0.5),
            };
            if before[range.clone()] != after[range.clone()] && keep_old {
                sector.copy_from_slice(&before[range]);
            }
        }
        let copy = dir.path().join(format!("trial{trial}"));
        std::fs::create_dir(&copy).unwrap();
        for e in std::fs::read_dir(&base).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), copy.join(e.file_name())).unwrap();
        }
        std::fs::write(copy.join(seg.file_name().unwrap()), &torn).unwrap();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(false));
        let out = seen.clone();
        run(move || async move {
            let (core, (a, b)) = open(&copy).await;
            let (a, b) = (a.borrow().ids.clone(), b.borrow().ids.clone());
            assert_eq!(a, b, "trial {trial}: both components or neither");
            assert!(
                (0..10).all(|id| a.contains(&id)),
                "trial {trial}: earlier commits"
            );
            *out.lock().unwrap() = a.contains(&10);
            core.close().await.unwrap();
        });
        if *seen.lock().unwrap() {
            whole += 1;
        } else {
            none += 1;
        }
    }
    assert!(
        whole > 0 && none > 0,
        "both outcomes occur ({whole} whole, {none} none)"
    );
}
