//! Format compatibility: a log written by format version 1 (a sealed plain segment, a compacted
//! segment and a tail segment, with rkyv payloads and multi-entry records) is committed under
//! `tests/fixtures/v1`; this build must read every record of it, at its position, unchanged.
//! A format change that breaks old logs fails here instead of in production.

#![forbid(unsafe_code)]

mod common;

use quark_log::{Config, Durability, Inspector, Log};

#[derive(rkyv::Archive, rkyv::Serialize)]
struct FixtureEvent {
    id: u64,
    name: String,
}

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/v1");
const EXPECTED: &str = include_str!("fixtures/v1.expected");

#[test]
fn version_1_fixture_reads_back() {
    let dir = common::tempdir();
    let path = dir.path().join("v1");
    std::fs::create_dir(&path).expect("mkdir");
    for e in std::fs::read_dir(FIXTURE).expect("fixture") {
        let e = e.expect("entry");
        std::fs::copy(e.path(), path.join(e.file_name())).expect("copy");
    }
    let expected: Vec<(u64, u64)> = EXPECTED
        .lines()
        .map(|l| {
            let mut it = l.split(' ').map(|x| x.parse::<u64>().expect("number"));
            (it.next().expect("position"), it.next().expect("id"))
        })
        .collect();
    assert_eq!(expected.len(), 917);
    let report = Inspector::open(&path)
        .expect("inspect")
        .verify()
        .expect("intact");
    assert_eq!((report.records, report.segments), (917, 3));
    common::run(move || async move {
        let config = Config {
            segment_bytes: 64 << 10,
            record_bytes_max: 4 << 10,
            batch_bytes_max: 8 << 10,
            durability: Durability::NoSyncUnsafe,
            ..Config::default()
        };
        let log = Log::open(&path, config).await.expect("open v1");
        assert_eq!(log.recovery_report().truncation, None);
        let records: Vec<_> = log
            .snapshot()
            .iter()
            .collect::<Result<_, _>>()
            .expect("intact");
        assert_eq!(records.len(), expected.len());
        for (r, &(position, id)) in records.iter().zip(&expected) {
            assert_eq!(r.position(), position);
            let entries: Vec<_> = r.entries().collect();
            let event = entries[0].access::<FixtureEvent>().expect("valid archive");
            assert_eq!(event.id, id);
            assert_eq!(event.name.as_str(), format!("event {id}"));
            let outbox = id.is_multiple_of(5);
            assert_eq!(entries.len(), if outbox { 2 } else { 1 }, "record {id}");
            if outbox {
                assert_eq!((entries[1].kind, entries[1].payload), (2, &b"outbox"[..]));
            }
        }
        log.append_bytes(1, b"v1 logs stay appendable")
            .await
            .expect("append");
        log.close().await.expect("close");
    });
}
