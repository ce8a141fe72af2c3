//! Write failures: a real I/O error (the segment made immutable with `chattr +i`, so the kernel
//! refuses the write with EPERM) stops the log. The failing append and every later one get
//! `AppendError::Failed`, records that were durable stay readable, `close` reports the failure,
//! and after a reopen exactly the durable records are there.

#![forbid(unsafe_code)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use quark_log::{AppendError, CloseError, Log};

/// Makes a file immutable for its lifetime (and mutable again even if the test panics).
struct Immutable(PathBuf);

impl Immutable {
    fn new(path: &Path) -> Immutable {
        let ok = Command::new("chattr")
            .arg("+i")
            .arg(path)
            .status()
            .expect("run chattr");
        assert!(ok.success(), "chattr +i {}", path.display());
        Immutable(path.to_path_buf())
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = Command::new("chattr").arg("-i").arg(&self.0).status();
    }
}

#[test]
fn a_failed_write_stops_the_log_and_keeps_durable_records() {
    let dir = common::tempdir();
    let path = dir.path().to_path_buf();
    common::run(move || async move {
        let log = Log::open(&path, common::small()).await.expect("open");
        let durable = log.append_bytes(1, b"durable").await.expect("append");
        let segment = path.join("00000000000000000000.seg");
        let guard = Immutable::new(&segment);
        let failed = log.append_bytes(1, b"never acknowledged").await;
        assert!(matches!(failed, Err(AppendError::Failed(_))), "{failed:?}");
        let later = log.append_bytes(1, b"after the failure").await;
        assert!(matches!(later, Err(AppendError::Failed(_))), "{later:?}");
        let r = log.read(durable).expect("durable records stay readable");
        assert_eq!(r.entries().next().expect("entry").payload, b"durable");
        assert!(matches!(log.close().await, Err(CloseError::Failed(_))));
        drop(guard);

        let log = Log::open(&path, common::small()).await.expect("reopen");
        let all: Vec<_> = log
            .snapshot()
            .iter()
            .collect::<Result<_, _>>()
            .expect("intact");
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].position(), durable);
        log.append_bytes(1, b"appendable again")
            .await
            .expect("append after reopen");
        log.close().await.expect("close");
    });
}
