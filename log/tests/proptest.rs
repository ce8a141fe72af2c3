//! Property test: random sequences of appends (records of 1 to 3 entries, payloads of 0 to
//! 2000 bytes) with random reopens in between read back identically: same positions, kinds and
//! payloads, through iteration and point reads.

#![forbid(unsafe_code)]

mod common;

use proptest::prelude::*;
use quark_log::{Config, Durability, Log, RecordBuilder};

#[derive(Clone, Debug)]
enum Op {
    Append(Vec<(u16, Vec<u8>)>),
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    let entry = (0u16..6, prop::collection::vec(any::<u8>(), 0..2000));
    prop_oneof![
        10 => prop::collection::vec(entry, 1..4).prop_map(Op::Append),
        1 => Just(Op::Reopen),
    ]
}

fn config() -> Config {
    Config {
        segment_bytes: 64 << 10,
        record_bytes_max: 8 << 10,
        batch_bytes_max: 16 << 10,
        durability: Durability::NoSyncUnsafe,
        ..Config::default()
    }
}

type Model = Vec<(u64, Vec<(u16, Vec<u8>)>)>;

fn check(log: &Log, model: &Model) {
    let got: Vec<_> = log.snapshot().iter().map(|r| r.expect("intact")).collect();
    assert_eq!(got.len(), model.len());
    for (r, (p, entries)) in got.iter().zip(model) {
        assert_eq!(r.position(), *p);
        let e: Vec<_> = r.entries().map(|e| (e.kind, e.payload.to_vec())).collect();
        assert_eq!(&e, entries);
        assert_eq!(log.read(*p).expect("point read").size(), r.size());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn random_appends_read_back_across_reopen(ops in prop::collection::vec(op(), 1..80)) {
        let dir = common::tempdir();
        let path = dir.path().to_path_buf();
        common::run(move || async move {
            let mut log = Log::open(&path, config()).await.expect("open");
            let mut model: Model = Vec::new();
            for op in ops {
                match op {
                    Op::Append(entries) => {
                        let mut r = RecordBuilder::new();
                        for (k, p) in &entries {
                            r.push_bytes(*k, p);
                        }
                        let p = log.append(&r).await.expect("append");
                        assert!(model.last().is_none_or(|(last, _)| p > *last));
                        model.push((p, entries));
                    }
                    Op::Reopen => {
                        log.close().await.expect("close");
                        log = Log::open(&path, config()).await.expect("reopen");
                        check(&log, &model);
                    }
                }
            }
            check(&log, &model);
            log.close().await.expect("close");
            let log = Log::open(&path, config()).await.expect("reopen");
            check(&log, &model);
            log.close().await.expect("close");
        });
    }
}
