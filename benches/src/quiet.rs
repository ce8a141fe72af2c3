//! What could have disturbed a run: the load average before and after, and the CPU other
//! processes used while scenarios ran, read from `/proc`.
//!
//! The runner takes a [`Snapshot`] just before and just after each repeat of each scenario
//! (never inside a timed section) and adds the difference to a [`Disturbance`]. Invariants: our
//! own process and the peer servers we measure (`postgres`, `redis-server`) are not counted as
//! disturbance, they are the measurement, and neither are the kernel's worker threads
//! (`kworker/…`, `iou-…`), which mostly complete the run's own I/O; a process that started and
//! ended between two snapshots is missed (the load average still shows it); on a system without
//! `/proc` every figure is absent and the verdict says so rather than claiming quiet.
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

/// Clock ticks per second of `/proc/<pid>/stat` CPU times (USER_HZ, 100 on every Linux
/// architecture the harness runs on).
const TICKS_PER_SEC: f64 = 100.0;

/// Processes whose CPU is part of the measurement, not a disturbance.
const MEASURED: &[&str] = &["postgres", "redis-server"];

/// Name prefixes of kernel threads doing I/O for whoever asked, most often the run itself.
const KERNEL_WORKERS: &[&str] = &["kworker/", "iou-"];

fn measured(name: &str) -> bool {
    MEASURED.contains(&name) || KERNEL_WORKERS.iter().any(|p| name.starts_with(p))
}

/// Other processes may use this much of one core (percent) before a run is called not quiet.
pub const OTHERS_PCT_MAX: f64 = 10.0;

/// The 1-minute load average may be this fraction of the cores before a run is called not
/// quiet.
pub const LOAD_PER_CORE_MAX: f64 = 0.25;

/// The machine at one instant.
#[derive(Clone, Debug)]
pub struct Snapshot {
    at: Instant,
    /// The 1, 5 and 15 minute load averages, if `/proc/loadavg` could be read.
    pub load: Option<[f64; 3]>,
    /// CPU ticks (user + system) of every other process, by pid: (name, ticks).
    cpu: HashMap<u32, (String, u64)>,
}

/// Parses `/proc/loadavg`'s first three fields.
pub fn parse_loadavg(text: &str) -> Option<[f64; 3]> {
    let mut it = text.split_whitespace().map(str::parse::<f64>);
    Some([it.next()?.ok()?, it.next()?.ok()?, it.next()?.ok()?])
}

/// Parses `/proc/<pid>/stat` into (name, user + system ticks). The name sits in parentheses
/// and may itself hold spaces or parentheses, so the fields are counted after the last `)`.
pub fn parse_stat(text: &str) -> Option<(String, u64)> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let name = text.get(open + 1..close)?.to_owned();
    let mut rest = text.get(close + 1..)?.split_whitespace();
    // After the name: state (field 3) … utime (field 14), stime (field 15).
    let utime: u64 = rest.nth(11)?.parse().ok()?;
    let stime: u64 = rest.next()?.parse().ok()?;
    Some((name, utime + stime))
}

impl Snapshot {
    /// Reads the load average and every other process's CPU time now.
    pub fn take() -> Snapshot {
        let load = std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|t| parse_loadavg(&t));
        let me = std::process::id();
        let mut cpu = HashMap::new();
        if let Ok(dir) = std::fs::read_dir("/proc") {
            for entry in dir.flatten() {
                let Some(pid) = entry
                    .file_name()
                    .to_str()
                    .and_then(|s| s.parse::<u32>().ok())
                else {
                    continue;
                };
                if pid == me {
                    continue;
                }
                // A process may end between the listing and the read: skip it.
                let path = entry.path().join("stat");
                if let Some(stat) = std::fs::read_to_string(path)
                    .ok()
                    .and_then(|t| parse_stat(&t))
                {
                    cpu.insert(pid, stat);
                }
            }
        }
        Snapshot {
            at: Instant::now(),
            load,
            cpu,
        }
    }
}

/// CPU other processes used over some spans of time.
#[derive(Clone, Debug, Default)]
pub struct Disturbance {
    /// The spans' total length in seconds.
    pub secs: f64,
    /// CPU seconds used by other processes, by process name.
    pub by_name: BTreeMap<String, f64>,
}

/// One busy process name and the share of one core it used.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Busy {
    /// The process name (`comm`), e.g. `rustc`.
    pub name: String,
    /// Its average use over the spans, in percent of one core.
    pub cpu_pct: f64,
}

impl Disturbance {
    /// Adds the span from `a` to `b`: each process's CPU ticks in `b` less those in `a`, or all
    /// of them for a process that started in between.
    pub fn add(&mut self, a: &Snapshot, b: &Snapshot) {
        self.secs += b.at.saturating_duration_since(a.at).as_secs_f64();
        for (pid, (name, ticks)) in &b.cpu {
            if measured(name) {
                continue;
            }
            let before = a
                .cpu
                .get(pid)
                .filter(|(n, _)| n == name)
                .map_or(0, |(_, t)| *t);
            let used = ticks.saturating_sub(before);
            if used > 0 {
                *self.by_name.entry(name.clone()).or_default() += used as f64 / TICKS_PER_SEC;
            }
        }
    }

    /// What all other processes used, in percent of one core (0 when no time passed).
    pub fn others_pct(&self) -> f64 {
        if self.secs <= 0.0 {
            return 0.0;
        }
        100.0 * self.by_name.values().sum::<f64>() / self.secs
    }

    /// The `n` busiest process names, busiest first.
    pub fn busiest(&self, n: usize) -> Vec<Busy> {
        let mut all: Vec<Busy> = self
            .by_name
            .iter()
            .map(|(name, cpu)| Busy {
                name: name.clone(),
                cpu_pct: if self.secs > 0.0 {
                    100.0 * cpu / self.secs
                } else {
                    0.0
                },
            })
            .collect();
        all.sort_by(|x, y| y.cpu_pct.total_cmp(&x.cpu_pct));
        all.truncate(n);
        all
    }

    /// "rustc 80 %, cargo 5 %" for the busiest processes above 1 % of a core.
    pub fn describe(&self) -> String {
        let names: Vec<String> = self
            .busiest(5)
            .into_iter()
            .filter(|b| b.cpu_pct >= 1.0)
            .map(|b| format!("{} {:.0} %", b.name, b.cpu_pct))
            .collect();
        if names.is_empty() {
            "none above 1 %".to_owned()
        } else {
            names.join(", ")
        }
    }
}

/// The conditions of a whole run, as the report and the JSON give them.
#[derive(Clone, Debug, Serialize)]
pub struct Conditions {
    /// Load averages (1, 5, 15 min) just before the first scenario.
    pub load_before: Option<[f64; 3]>,
    /// Load averages just after the last scenario (our own run adds to them).
    pub load_after: Option<[f64; 3]>,
    /// CPU other processes used while scenarios ran, in percent of one core.
    pub others_cpu_pct: f64,
    /// The busiest other processes.
    pub busiest: Vec<Busy>,
    /// Whether the machine was quiet (see [`Conditions::quiet_for`]).
    pub quiet: bool,
    /// Why not, when it was not.
    pub why_not_quiet: Vec<String>,
}

impl Conditions {
    /// Judges a run on `cores` cores from its first and last snapshots and the disturbance its
    /// scenarios saw: quiet means the 1-minute load before was at most [`LOAD_PER_CORE_MAX`] per
    /// core and other processes used at most [`OTHERS_PCT_MAX`] % of one core.
    pub fn quiet_for(
        cores: usize,
        before: &Snapshot,
        after: &Snapshot,
        seen: &Disturbance,
    ) -> Conditions {
        let mut why = Vec::new();
        let limit = LOAD_PER_CORE_MAX * cores as f64;
        match before.load {
            Some([one, ..]) if one > limit => why.push(format!(
                "load average {one:.2} before the run (more than {limit:.2} on {cores} cores)"
            )),
            Some(_) => {}
            None => why.push("/proc/loadavg could not be read".to_owned()),
        }
        let others = seen.others_pct();
        if others > OTHERS_PCT_MAX {
            why.push(format!(
                "other processes used {others:.0} % of a core while scenarios ran ({})",
                seen.describe()
            ));
        }
        Conditions {
            load_before: before.load,
            load_after: after.load,
            others_cpu_pct: others,
            busiest: seen.busiest(5),
            quiet: why.is_empty(),
            why_not_quiet: why,
        }
    }

    /// One paragraph for the printed report.
    pub fn describe(&self) -> String {
        let load = |l: Option<[f64; 3]>| {
            l.map_or("unknown".to_owned(), |[a, b, c]| {
                format!("{a:.2} {b:.2} {c:.2}")
            })
        };
        let mut out = format!(
            "Conditions: load average {} before, {} after (1/5/15 min); other processes used \
             {:.1} % of one core while scenarios ran",
            load(self.load_before),
            load(self.load_after),
            self.others_cpu_pct
        );
        let busy: Vec<String> = self
            .busiest
            .iter()
            .filter(|b| b.cpu_pct >= 1.0)
            .map(|b| format!("{} {:.0} %", b.name, b.cpu_pct))
            .collect();
        if !busy.is_empty() {
            out.push_str(&format!(" (busiest: {})", busy.join(", ")));
        }
        out.push_str(".\n");
        if self.quiet {
            out.push_str("The machine was quiet.\n");
        } else {
            out.push_str(&format!(
                "WARNING: the machine was not quiet ({}): figures may be off, compare ratios \
                 within this run.\n",
                self.why_not_quiet.join("; ")
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::{Conditions, Disturbance, Snapshot, parse_loadavg, parse_stat};
    use std::collections::HashMap;
    use std::time::{Duration, Instant};

    fn snapshot(at: Instant, load: f64, cpu: &[(u32, &str, u64)]) -> Snapshot {
        Snapshot {
            at,
            load: Some([load, load, load]),
            cpu: cpu
                .iter()
                .map(|(pid, name, ticks)| (*pid, ((*name).to_owned(), *ticks)))
                .collect::<HashMap<_, _>>(),
        }
    }

    #[test]
    fn proc_files_parse() {
        assert_eq!(
            parse_loadavg("0.52 1.10 2.00 3/180 26031\n"),
            Some([0.52, 1.10, 2.00])
        );
        assert_eq!(parse_loadavg("garbage"), None);
        let stat = "26033 (tokio (rt) 1) R 26029 26029 15511 0 -1 4194304 98 0 0 0 37 5 0 0 20 0 \
                    1 0 568860";
        assert_eq!(parse_stat(stat), Some(("tokio (rt) 1".to_owned(), 42)));
        assert_eq!(parse_stat("1 (init) S 0"), None);
    }

    #[test]
    fn others_cpu_counts_other_processes_but_not_the_peers_servers() {
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_secs(2);
        let a = snapshot(
            t0,
            0.1,
            &[
                (10, "rustc", 100),
                (11, "postgres", 0),
                (12, "idle", 5),
                (14, "kworker/u8:0", 0),
            ],
        );
        let b = snapshot(
            t1,
            0.1,
            &[
                (10, "rustc", 250),    // 1.5 s over 2 s: 75 % of a core
                (11, "postgres", 400), // the measured peer: not a disturbance
                (12, "idle", 5),
                (13, "cargo", 20), // started in between: all of its 0.2 s count
                (14, "kworker/u8:0-iou_exit", 90), // the kernel doing (our) I/O
            ],
        );
        let mut d = Disturbance::default();
        d.add(&a, &b);
        assert!((d.others_pct() - 85.0).abs() < 1e-9, "{}", d.others_pct());
        let busiest = d.busiest(5);
        assert_eq!(busiest[0].name, "rustc");
        assert!((busiest[0].cpu_pct - 75.0).abs() < 1e-9);
        assert_eq!(busiest.len(), 2, "{busiest:?}");
        assert_eq!(d.describe(), "rustc 75 %, cargo 10 %");
        let verdict = Conditions::quiet_for(2, &a, &b, &d);
        assert!(!verdict.quiet);
        assert!(
            verdict
                .describe()
                .contains("WARNING: the machine was not quiet")
        );
    }

    #[test]
    fn a_quiet_machine_is_called_quiet_and_a_loaded_one_is_not() {
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_secs(10);
        let a = snapshot(t0, 0.2, &[(10, "sshd", 0)]);
        let b = snapshot(t1, 1.5, &[(10, "sshd", 10)]);
        let mut d = Disturbance::default();
        d.add(&a, &b);
        let quiet = Conditions::quiet_for(2, &a, &b, &d);
        assert!(quiet.quiet, "{:?}", quiet.why_not_quiet);
        assert!(quiet.describe().contains("The machine was quiet."));
        let busy_before = snapshot(t0, 3.0, &[(10, "sshd", 0)]);
        let loaded = Conditions::quiet_for(2, &busy_before, &b, &d);
        assert!(!loaded.quiet);
        assert!(
            loaded.why_not_quiet[0].contains("load average 3.00"),
            "{loaded:?}"
        );
    }
}
