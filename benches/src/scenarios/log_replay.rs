//! `log.replay` {records_per_s}: one full read of N records of 128 B, in position order, against
//! PostgreSQL (`SELECT … ORDER BY id`) and Redis (`XRANGE` in pages).
//!
//! Invariant: a system's figure counts only if it read back exactly the N records written.
use super::{Measured, RowSpec, read_all_back, replay_outcome};
use crate::ours;
use crate::peers::postgres::Postgres;
use crate::peers::redis::Redis;
use crate::peers::{LogPeer, ReplayLoad, ReplayRun};
use crate::report::Better;
use crate::scenario::{Ctx, Outcome, Scenario};

/// The scenario.
pub struct LogReplay;

impl Scenario for LogReplay {
    fn name(&self) -> &'static str {
        "log.replay"
    }

    fn describe(&self) -> &'static str {
        "one full read, in order, of N records of 128 B written beforehand"
    }

    fn quark_runs(&self) -> &'static str {
        "in this process: quark-log on one glommio executor pinned to CPU 0 (one shard), reading \
         on that thread"
    }

    fn run(&self, ctx: &Ctx<'_>) -> Outcome {
        let load = ReplayLoad {
            records: ctx.size.pick(2_000, 200_000, 1_000_000),
            record_bytes: 128,
        };
        let systems: Vec<Box<dyn LogPeer>> = vec![
            Box::new(ours::log::QuarkLog::new()),
            Box::new(Postgres::new(&ctx.endpoints.postgres)),
            Box::new(Redis::new(&ctx.endpoints.redis)),
        ];
        let mut measured: Vec<Measured<ReplayRun>> = systems
            .iter()
            .map(|s| {
                let result = s
                    .replay(&load, ctx.progress)
                    .and_then(|r| read_all_back(r, &load, "records"));
                match &result {
                    Ok(r) => ctx
                        .progress
                        .say(s.name(), &format!("read in {:.3} s", r.secs)),
                    Err(e) => ctx.progress.say(s.name(), &format!("unavailable: {e}")),
                }
                Measured {
                    system: s.name(),
                    result,
                }
            })
            .collect();
        let ours = measured.remove(0);
        let text = format!(
            "{} records of {} B, one reader",
            load.records, load.record_bytes
        );
        let spec = RowSpec {
            scenario: self.name(),
            metric: "records_per_s",
            target: Some(15_000_000.0),
            better: Better::Higher,
            durable: true,
            load: &text,
        };
        replay_outcome(&spec, &ours, &measured)
    }
}
