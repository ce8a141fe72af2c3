//! `quark-log`: the operator's tool for a (closed) log directory.
//!
//! - `quark-log verify DIR [--batch-bytes-max N]` checks every frame (pass the log's
//!   `batch_bytes_max` if it is not the default: it bounds what counts as a torn tail).
//!   Exit 0: intact. Exit 1: corruption (file, offset and position printed). Exit 2: intact but
//!   with a torn tail that the next open will cut.
//! - `quark-log dump DIR [--from POS] [--limit N] [--batch-bytes-max N]` prints one line per
//!   record: position, size, append time, and each entry's kind and length. It reads the tail
//!   as `verify` does (same batch size) and reports the same damage: exit 1 on corruption.
//! - `quark-log repair DIR --truncate-at POS [--yes] [--batch-bytes-max N]` prints what cutting
//!   the log at `POS` loses (the segment, offset, bytes and records cut, later segments
//!   deleted); only with `--yes` does it cut (exit 0). Without `--yes` it changes nothing and
//!   exits 2. Recovery never cuts acknowledged records on its own: this is how an operator
//!   accepts a loss that `verify` or `Log::open` reported.
//!
//! Exit 3 for usage errors and directories that cannot be opened (not a log, locked by a
//! running process, unreadable); corruption found while opening (a damaged segment header) is
//! exit 1 like any other. Only `repair --yes` writes; the other commands open every file for
//! reading, so they work on a read-only copy.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use quark_log::{Inspector, OpenError, Record};

const USAGE: &str = "usage:
  quark-log verify DIR [--batch-bytes-max N]
  quark-log dump DIR [--from POS] [--limit N] [--batch-bytes-max N]
  quark-log repair DIR --truncate-at POS [--yes] [--batch-bytes-max N]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("verify") if args.len() == 2 => verify(&args[1], None),
        Some("verify") if args.len() == 4 && args[2] == "--batch-bytes-max" => {
            match args[3].parse() {
                Ok(n) => verify(&args[1], Some(n)),
                Err(_) => usage(),
            }
        }
        Some("dump") if args.len() >= 2 => match parse_dump(&args[2..]) {
            Some((from, limit, batch)) => dump(&args[1], from, limit, batch),
            None => usage(),
        },
        Some("repair") if args.len() >= 2 => match parse_repair(&args[2..]) {
            Some((at, yes, batch)) => repair(&args[1], at, yes, batch),
            None => usage(),
        },
        _ => usage(),
    }
}

fn usage() -> ExitCode {
    eprintln!("{USAGE}");
    ExitCode::from(3)
}

fn parse_dump(rest: &[String]) -> Option<(u64, u64, Option<usize>)> {
    let (mut from, mut limit, mut batch) = (0u64, u64::MAX, None);
    let mut it = rest.iter();
    while let Some(flag) = it.next() {
        let value = it.next()?;
        match flag.as_str() {
            "--from" => from = value.parse().ok()?,
            "--limit" => limit = value.parse().ok()?,
            "--batch-bytes-max" => batch = Some(value.parse().ok()?),
            _ => return None,
        }
    }
    Some((from, limit, batch))
}

/// `--truncate-at POS` (required), `--yes`/`--force`, `--batch-bytes-max N`.
fn parse_repair(rest: &[String]) -> Option<(u64, bool, usize)> {
    let (mut at, mut yes) = (None, false);
    let mut batch = quark_log::Config::default().batch_bytes_max;
    let mut it = rest.iter();
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--yes" | "--force" => yes = true,
            "--truncate-at" => at = Some(it.next()?.parse().ok()?),
            "--batch-bytes-max" => batch = it.next()?.parse().ok()?,
            _ => return None,
        }
    }
    Some((at?, yes, batch))
}

fn repair(dir: &str, at: u64, yes: bool, batch_bytes_max: usize) -> ExitCode {
    let plan = match quark_log::Repair::plan(dir, at, batch_bytes_max) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("quark-log: {e}");
            return ExitCode::from(3);
        }
    };
    println!("{plan}");
    if !yes {
        println!("nothing changed: re-run with --yes to cut");
        return ExitCode::from(2);
    }
    match plan.apply() {
        Ok(()) => {
            println!("done");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("quark-log: repair failed part-way: {e}");
            ExitCode::from(1)
        }
    }
}

fn open(dir: &str, batch_bytes_max: Option<usize>) -> Result<Inspector, ExitCode> {
    let opened = match batch_bytes_max {
        Some(n) => Inspector::open_with(dir, n),
        None => Inspector::open(dir),
    };
    opened.map_err(|e| match e {
        OpenError::Corrupt(c) => {
            println!("CORRUPT at position {}: {c}", c.position);
            ExitCode::from(1)
        }
        e => {
            eprintln!("quark-log: {e}");
            ExitCode::from(3)
        }
    })
}

fn verify(dir: &str, batch_bytes_max: Option<usize>) -> ExitCode {
    let inspector = match open(dir, batch_bytes_max) {
        Ok(i) => i,
        Err(code) => return code,
    };
    match inspector.verify() {
        Ok(r) => {
            println!(
                "ok: {} records in {} segments, positions {}..{}",
                r.records, r.segments, r.first_position, r.end
            );
            match r.torn_tail {
                None => ExitCode::SUCCESS,
                Some(t) => {
                    println!(
                        "torn tail: {} bytes ({} frames) at position {} (offset {} of {}); \
                         the next open will cut them",
                        t.bytes,
                        t.frames,
                        t.position,
                        t.offset,
                        t.path.display()
                    );
                    ExitCode::from(2)
                }
            }
        }
        Err(c) => {
            println!("CORRUPT at position {}: {c}", c.position);
            ExitCode::from(1)
        }
    }
}

fn dump(dir: &str, from: u64, limit: u64, batch_bytes_max: Option<usize>) -> ExitCode {
    let inspector = match open(dir, batch_bytes_max) {
        Ok(i) => i,
        Err(code) => return code,
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for (printed, r) in (0u64..).zip(inspector.snapshot().iter_from(from)) {
        if printed == limit {
            return ExitCode::SUCCESS;
        }
        match r {
            Ok(record) => {
                use std::io::Write;
                if writeln!(out, "{}", line(&record)).is_err() {
                    return ExitCode::SUCCESS; // Closed pipe (e.g. `| head`).
                }
            }
            Err(e) => {
                use std::io::Write;
                let _ = out.flush();
                println!("CORRUPT: {e}");
                return ExitCode::from(1);
            }
        }
    }
    // The records stopped at damage in the tail segment: say so, as for damage elsewhere.
    if let Some(c) = inspector.tail_damage() {
        use std::io::Write;
        let _ = out.flush();
        println!("CORRUPT at position {}: {c}", c.position);
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

fn line(r: &Record) -> String {
    let entries: Vec<String> = r
        .entries()
        .map(|e| format!("{}:{}", e.kind, e.payload.len()))
        .collect();
    format!(
        "position={} size={} time={} entries=[{}]",
        r.position(),
        r.size(),
        utc(r.time_us()),
        entries.join(",")
    )
}

/// Formats microseconds since the Unix epoch as RFC 3339 UTC.
fn utc(us: u64) -> String {
    let secs = us / 1_000_000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        us % 1_000_000
    )
}
