//! `log.append` {throughput_per_s, p50_us, p99_us}: durable appends of 128 B records from 64
//! concurrent appenders on one shard, against PostgreSQL `INSERT` and Redis `XADD` at the same
//! concurrency.
//!
//! Invariant: only appends acknowledged as durable count, and each system's durability setting
//! or check is written into the notes.
use super::{Measured, RowSpec, row, work};
use crate::ours;
use crate::peers::postgres::Postgres;
use crate::peers::redis::Redis;
use crate::peers::{AppendLoad, AppendRun, LogPeer, PeerError};
use crate::report::Better;
use crate::scenario::{Ctx, Outcome, Scenario};

/// The scenario.
pub struct LogAppend;

impl Scenario for LogAppend {
    fn name(&self) -> &'static str {
        "log.append"
    }

    fn describe(&self) -> &'static str {
        "durable appends of 128 B records from 64 concurrent appenders on one shard (and 1, 16)"
    }

    fn quark_runs(&self) -> &'static str {
        "in this process: quark-log on one glommio executor pinned to CPU 0 (one shard), \
         appenders as tasks on it"
    }

    fn run(&self, ctx: &Ctx<'_>) -> Outcome {
        // 64 appenders is the headline load; the full run adds lighter ones. PostgreSQL's
        // default max_connections (100) bounds the heaviest level.
        let levels = ctx.size.pick(&[8][..], &[64][..], &[64, 1, 16][..]);
        let mut out = Outcome::default();
        for &appenders in levels {
            let load = AppendLoad {
                appenders,
                record_bytes: 128,
                warmup: ctx.size.warmup(),
                measure: ctx.size.measure(),
            };
            let (ours, peers) = measure_level(ctx, &load);
            let level = outcome(self.name(), &load, &ours, &peers);
            out.rows.extend(level.rows);
            out.work.extend(level.work.into_iter().map(|mut w| {
                w.system = format!("{}@{appenders}", w.system);
                w
            }));
            let prefix = format!("{appenders} appender(s): ");
            out.notes
                .extend(level.notes.into_iter().map(|n| format!("{prefix}{n}")));
        }
        out
    }
}

fn measure_level(
    ctx: &Ctx<'_>,
    load: &AppendLoad,
) -> (Measured<AppendRun>, Vec<Measured<AppendRun>>) {
    let systems: Vec<Box<dyn LogPeer>> = vec![
        Box::new(ours::log::QuarkLog::new()),
        Box::new(Postgres::new(&ctx.endpoints.postgres)),
        Box::new(Redis::new(&ctx.endpoints.redis)),
    ];
    let mut measured: Vec<Measured<AppendRun>> = systems
        .iter()
        .map(|s| {
            let result = s.append(load, ctx.progress).and_then(|r| {
                if r.durable {
                    Ok(r)
                } else {
                    Err(PeerError::Unavailable(format!(
                        "not durable: {}",
                        r.durability
                    )))
                }
            });
            match &result {
                Ok(r) => ctx.progress.say(s.name(), &format!("{} appends", r.total)),
                Err(e) => ctx.progress.say(s.name(), &format!("unavailable: {e}")),
            }
            Measured {
                system: s.name(),
                result,
            }
        })
        .collect();
    let ours = measured.remove(0);
    (ours, measured)
}

fn outcome(
    name: &str,
    load: &AppendLoad,
    ours: &Measured<AppendRun>,
    peers: &[Measured<AppendRun>],
) -> Outcome {
    let plural = if load.appenders == 1 { "" } else { "s" };
    let text = format!(
        "{} appender{plural}, {} B records, 1 shard",
        load.appenders, load.record_bytes
    );
    let durable = ours.result.is_ok();
    // MISSION.md states its targets at 64 appenders; other levels have none.
    let headline = load.appenders == 64;
    let spec = |metric, target, better| RowSpec {
        scenario: name,
        metric,
        target,
        better,
        durable,
        load: &text,
    };
    let rows = vec![
        row(
            &spec(
                "throughput_per_s",
                headline.then_some(150_000.0),
                Better::Higher,
            ),
            ours,
            peers,
            |r| Some(r.appends as f64 / r.secs),
        ),
        row(&spec("p50_us", None, Better::Lower), ours, peers, |r| {
            Some(r.latencies.quantile_us(0.50))
        }),
        row(
            &spec("p99_us", headline.then_some(1000.0), Better::Lower),
            ours,
            peers,
            |r| Some(r.latencies.quantile_us(0.99)),
        ),
    ];
    let mut out = Outcome {
        rows,
        ..Outcome::default()
    };
    out.notes.push(format!(
        "each system: {:.1} s warm-up, then {:.1} s of steady state; latency of every append \
         acknowledged in the steady state (hdrhistogram)",
        load.warmup.as_secs_f64(),
        load.measure.as_secs_f64()
    ));
    for m in std::iter::once(ours).chain(peers) {
        out.work.extend(work(m, |r| (r.total, r.hash)));
        if let Ok(r) = &m.result {
            out.notes.push(r.durability.clone());
        }
    }
    out
}
