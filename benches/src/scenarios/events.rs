//! The event-store scenarios, Quark's journal against PostgreSQL (an `events` table with a
//! unique (stream, version) key) and Redis streams, same load for all:
//! - `events.append` {events_per_s, p50_us, p99_us}: 64 concurrent appenders, each owning a
//!   stream, one 128 B event per append with its expected version, durable.
//! - `events.read_stream_100` {p99_us}: whole reads of 100-event streams (events of all
//!   streams interleaved in the store), one at a time.
//! - `events.replay` {events_per_s}: one full read, in the store's order, of N events.
//!
//! Invariants: an append figure counts only if the system's durability was checked; a read or
//! replay figure counts only if every event written was read back.
use super::{Measured, RowSpec, read_all_back, replay_outcome, row, work};
use crate::ours::events::QuarkJournal;
use crate::peers::events::{EventStorePeer, StreamReadLoad, StreamReadRun};
use crate::peers::postgres::Postgres;
use crate::peers::redis::Redis;
use crate::peers::{AppendLoad, AppendRun, PeerError, ReplayLoad, ReplayRun};
use crate::report::Better;
use crate::scenario::{Ctx, Outcome, Scenario};

fn systems(ctx: &Ctx<'_>) -> Vec<Box<dyn EventStorePeer>> {
    vec![
        Box::new(QuarkJournal::new()),
        Box::new(Postgres::new(&ctx.endpoints.postgres)),
        Box::new(Redis::new(&ctx.endpoints.redis)),
    ]
}

/// Runs `f` for every system, reporting progress; Quark first.
fn measure<T>(
    ctx: &Ctx<'_>,
    f: impl Fn(&dyn EventStorePeer) -> Result<T, PeerError>,
    said: impl Fn(&T) -> String,
) -> (Measured<T>, Vec<Measured<T>>) {
    let mut measured: Vec<Measured<T>> = systems(ctx)
        .iter()
        .map(|s| {
            let result = f(s.as_ref());
            match &result {
                Ok(r) => ctx.progress.say(s.name(), &said(r)),
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

/// `events.append`.
pub struct EventsAppend;

impl Scenario for EventsAppend {
    fn name(&self) -> &'static str {
        "events.append"
    }

    fn describe(&self) -> &'static str {
        "durable one-event appends with expected version from 64 appenders, one stream each"
    }

    fn quark_runs(&self) -> &'static str {
        "in this process: the journal on the shard thread of a one-shard engine (`run_on`), \
         appenders as tasks on it"
    }

    fn run(&self, ctx: &Ctx<'_>) -> Outcome {
        let load = AppendLoad {
            appenders: ctx.size.pick(8, 64, 64),
            record_bytes: 128,
            warmup: ctx.size.warmup(),
            measure: ctx.size.measure(),
        };
        let durable = |r: AppendRun| {
            if r.durable {
                Ok(r)
            } else {
                Err(PeerError::Unavailable(format!(
                    "not durable: {}",
                    r.durability
                )))
            }
        };
        let (ours, peers) = measure(
            ctx,
            |s| s.append_events(&load, ctx.progress).and_then(durable),
            |r| format!("{} appends", r.total),
        );
        let text = format!(
            "{} appenders, 1 × {} B event per append, 1 shard",
            load.appenders, load.record_bytes
        );
        let mut out = append_outcome(self.name(), &text, &ours, &peers);
        ctx.progress
            .say("quark", "again, with a shard that parks when idle");
        let result = QuarkJournal::parked()
            .append_events(&load, ctx.progress)
            .and_then(durable);
        let parked = Measured {
            system: "quark-parked",
            result,
        };
        let more = append_outcome(
            self.name(),
            &format!("{text}; quark parked"),
            &parked,
            &peers,
        );
        out.rows.extend(more.rows);
        out.work
            .extend(more.work.into_iter().filter(|w| w.system == "quark-parked"));
        if let Ok(r) = &parked.result {
            out.notes.push(format!("quark parked: {}", r.durability));
        }
        out.notes.push(
            "quark runs twice: with the engine's default idle policy (the shard spins 10 ms \
             before parking) and, in the rows whose load ends in \"quark parked\", with a shard \
             that parks at once (spin_before_park(None))"
                .to_owned(),
        );
        out
    }
}

fn append_outcome(
    name: &str,
    text: &str,
    ours: &Measured<AppendRun>,
    peers: &[Measured<AppendRun>],
) -> Outcome {
    let spec = |metric, target, better| RowSpec {
        scenario: name,
        metric,
        target,
        better,
        durable: ours.result.is_ok(),
        load: text,
    };
    let rows = vec![
        row(
            &spec("events_per_s", Some(150_000.0), Better::Higher),
            ours,
            peers,
            |r| Some(r.appends as f64 / r.secs),
        ),
        row(&spec("p50_us", None, Better::Lower), ours, peers, |r| {
            Some(r.latencies.quantile_us(0.50))
        }),
        row(
            &spec("p99_us", Some(1000.0), Better::Lower),
            ours,
            peers,
            |r| Some(r.latencies.quantile_us(0.99)),
        ),
    ];
    let mut out = Outcome {
        rows,
        ..Outcome::default()
    };
    for m in std::iter::once(ours).chain(peers) {
        out.work.extend(work(m, |r| (r.total, r.hash)));
        if let Ok(r) = &m.result {
            out.notes.push(r.durability.clone());
        }
    }
    out
}

/// `events.read_stream_100`.
pub struct EventsReadStream;

impl Scenario for EventsReadStream {
    fn name(&self) -> &'static str {
        "events.read_stream_100"
    }

    fn describe(&self) -> &'static str {
        "whole reads of 100-event streams (128 B events, streams interleaved), one at a time"
    }

    fn quark_runs(&self) -> &'static str {
        "in this process: the journal read on the shard thread of a one-shard engine (`run_on`)"
    }

    fn run(&self, ctx: &Ctx<'_>) -> Outcome {
        let load = StreamReadLoad {
            streams: ctx.size.pick(10, 200, 1000),
            events_per_stream: 100,
            event_bytes: 128,
            warmup: ctx.size.warmup(),
            measure: ctx.size.measure(),
        };
        let (ours, peers) = measure(
            ctx,
            |s| s.read_streams(&load, ctx.progress),
            |r: &StreamReadRun| format!("{} stream reads", r.reads),
        );
        let text = format!(
            "{} streams × {} events of {} B, one reader",
            load.streams, load.events_per_stream, load.event_bytes
        );
        let spec = RowSpec {
            scenario: self.name(),
            metric: "p99_us",
            target: Some(50.0),
            better: Better::Lower,
            durable: true,
            load: &text,
        };
        let rows = vec![row(&spec, &ours, &peers, |r| {
            Some(r.latencies.quantile_us(0.99))
        })];
        let mut out = Outcome {
            rows,
            ..Outcome::default()
        };
        out.notes.push(
            "stream reads: Quark reads on the shard thread (in-process, the way actors and \
             projections read); the peers answer over their socket (see `where`): that is how \
             each is used, and part of why Quark wins here"
                .to_owned(),
        );
        for m in std::iter::once(&ours).chain(&peers) {
            out.work.extend(work(m, |r| (r.events, r.hash)));
            if let Ok(r) = &m.result {
                out.notes.push(r.how.clone());
            }
        }
        out
    }
}

/// `events.replay`.
pub struct EventsReplay;

impl Scenario for EventsReplay {
    fn name(&self) -> &'static str {
        "events.replay"
    }

    fn describe(&self) -> &'static str {
        "one full read, in global order, of N events of 128 B over 64 streams"
    }

    fn quark_runs(&self) -> &'static str {
        "in this process: the journal replayed on the shard thread of a one-shard engine \
         (`run_on`)"
    }

    fn run(&self, ctx: &Ctx<'_>) -> Outcome {
        let load = ReplayLoad {
            records: ctx.size.pick(6_400, 320_000, 1_024_000),
            record_bytes: 128,
        };
        let (ours, peers) = measure(
            ctx,
            |s| {
                s.replay_events(&load, ctx.progress)
                    .and_then(|r: ReplayRun| read_all_back(r, &load, "events"))
            },
            |r| format!("read in {:.3} s", r.secs),
        );
        let text = format!(
            "{} events of {} B, one reader",
            load.records, load.record_bytes
        );
        let spec = RowSpec {
            scenario: self.name(),
            metric: "events_per_s",
            target: Some(15_000_000.0),
            better: Better::Higher,
            durable: true,
            load: &text,
        };
        replay_outcome(&spec, &ours, &peers)
    }
}
