//! The actor scenarios: `actor.tell_one_shard` {msgs_per_s}, `actor.call_one_shard`
//! {calls_per_s, p99_us}, `actor.call_cross_shard` {calls_per_s, p50_us, p99_us} and
//! `actor.activate` {activations_per_s, bytes_per_activation}; Quark's engine against the same
//! ping-pong written with actix and ractor, in the same run.
//!
//! Invariant: every system runs the same loops (`peers::pingpong`) with the same counts; only
//! how a message is sent differs.
use super::{Measured, RowSpec, row, work};
use crate::ours;
use crate::peers::PeerError;
use crate::peers::actix::Actix;
use crate::peers::ractor::Ractor;
use crate::peers::{ActivateLoad, ActivateRun, ActorPeer, CallLoad, MessageLoad, MessageRun};
use crate::report::Better;
use crate::scenario::{Ctx, Outcome};

fn systems() -> Vec<Box<dyn ActorPeer>> {
    vec![
        Box::new(ours::engine::QuarkEngine::new()),
        Box::new(Actix),
        Box::new(Ractor),
    ]
}

/// Runs `each` on every system; returns Quark's result and the peers'.
fn measure<T>(
    ctx: &Ctx<'_>,
    what: &str,
    each: impl Fn(&dyn ActorPeer) -> Result<T, PeerError>,
) -> (Measured<T>, Vec<Measured<T>>) {
    let mut all: Vec<Measured<T>> = systems()
        .iter()
        .map(|s| {
            ctx.progress.say(s.name(), what);
            let result = each(s.as_ref());
            if let Err(e) = &result {
                ctx.progress.say(s.name(), &format!("unavailable: {e}"));
            }
            Measured {
                system: s.name(),
                result,
            }
        })
        .collect();
    let ours = all.remove(0);
    (ours, all)
}

/// What each messaging metric reads from a run.
type Metric = (
    &'static str,
    Option<f64>,
    Better,
    fn(&MessageRun) -> Option<f64>,
);

fn per_s(r: &MessageRun) -> Option<f64> {
    Some(r.messages as f64 / r.secs)
}

fn p50(r: &MessageRun) -> Option<f64> {
    Some(r.latencies.quantile_us(0.50))
}

fn p99(r: &MessageRun) -> Option<f64> {
    Some(r.latencies.quantile_us(0.99))
}

fn messaging<L>(
    ctx: &Ctx<'_>,
    name: &str,
    (load, what): (&L, &str),
    text: &str,
    metrics: &[Metric],
    each: impl Fn(&dyn ActorPeer, &L) -> Result<MessageRun, PeerError>,
) -> Outcome {
    let (ours, peers) = measure(ctx, what, |s| each(s, load));
    outcome(name, text, metrics, &ours, &peers)
}

/// The call load at this size, and how progress describes it.
fn call_load(ctx: &Ctx<'_>) -> (CallLoad, String) {
    let load = CallLoad {
        warmup: ctx.size.warmup(),
        measure: ctx.size.measure(),
    };
    let what = format!(
        "calls for {:.1} s, then timed for {:.1} s",
        load.warmup.as_secs_f64(),
        load.measure.as_secs_f64()
    );
    (load, what)
}

fn outcome(
    name: &str,
    text: &str,
    metrics: &[Metric],
    ours: &Measured<MessageRun>,
    peers: &[Measured<MessageRun>],
) -> Outcome {
    let rows = metrics
        .iter()
        .map(|(metric, target, better, get)| {
            let spec = RowSpec {
                scenario: name,
                metric,
                target: *target,
                better: *better,
                durable: false,
                load: text,
            };
            row(&spec, ours, peers, get)
        })
        .collect();
    let mut out = Outcome {
        rows,
        ..Outcome::default()
    };
    for m in std::iter::once(ours).chain(peers) {
        out.work.extend(work(m, |r| (r.messages, r.hash)));
        if let Ok(r) = &m.result
            && r.latencies.count() > 0
        {
            out.notes.push(format!(
                "{}{}: mean {:.2} µs, p99.9 {:.1} µs, max {:.0} µs per call",
                m.system,
                text.split_once("; ")
                    .map_or(String::new(), |(_, tag)| format!(" ({tag})")),
                r.secs * 1e6 / r.messages.max(1) as f64,
                r.latencies.quantile_us(0.999),
                r.latencies.quantile_us(1.0)
            ));
        }
    }
    out
}

/// `actor.tell_one_shard`.
pub struct TellOneShard;

impl crate::scenario::Scenario for TellOneShard {
    fn name(&self) -> &'static str {
        "actor.tell_one_shard"
    }

    fn describe(&self) -> &'static str {
        "one-way messages from one sender to one actor on the same core"
    }

    fn quark_runs(&self) -> &'static str {
        "in this process: sender task and actor on the actor's home shard"
    }

    fn run(&self, ctx: &Ctx<'_>) -> Outcome {
        let n = ctx.size.pick(10_000, 2_000_000, 10_000_000);
        let load = MessageLoad {
            messages: n,
            warmup: n / 10,
        };
        let text = "1 sender → 1 actor, same core, u64 payload, yield every 1024".to_owned();
        let metrics: [Metric; 1] = [("msgs_per_s", Some(6_000_000.0), Better::Higher, per_s)];
        let what = format!(
            "{} timed messages after {} untimed",
            load.messages, load.warmup
        );
        messaging(ctx, self.name(), (&load, &what), &text, &metrics, |s, l| {
            s.tell_one_core(l)
        })
    }
}

/// `actor.call_one_shard`.
pub struct CallOneShard;

impl crate::scenario::Scenario for CallOneShard {
    fn name(&self) -> &'static str {
        "actor.call_one_shard"
    }

    fn describe(&self) -> &'static str {
        "sequential request/response from one caller to one actor on the same core"
    }

    fn quark_runs(&self) -> &'static str {
        "in this process: caller task and actor on the actor's home shard"
    }

    fn run(&self, ctx: &Ctx<'_>) -> Outcome {
        let (load, what) = call_load(ctx);
        let text = "1 caller, 1 call in flight, same core".to_owned();
        let metrics: [Metric; 2] = [
            ("calls_per_s", Some(1_700_000.0), Better::Higher, per_s),
            ("p99_us", None, Better::Lower, p99),
        ];
        messaging(ctx, self.name(), (&load, &what), &text, &metrics, |s, l| {
            s.call_one_core(l)
        })
    }
}

/// `actor.call_cross_shard`.
pub struct CallCrossShard;

impl crate::scenario::Scenario for CallCrossShard {
    fn name(&self) -> &'static str {
        "actor.call_cross_shard"
    }

    fn describe(&self) -> &'static str {
        "sequential request/response from a caller on one core to an actor on another"
    }

    fn quark_runs(&self) -> &'static str {
        "in this process: caller on one shard, actor on the other shard of a two-shard engine"
    }

    fn run(&self, ctx: &Ctx<'_>) -> Outcome {
        let (load, what) = call_load(ctx);
        let text = "1 caller, 1 call in flight, actor on another core/thread".to_owned();
        let metrics: [Metric; 3] = [
            ("calls_per_s", None, Better::Higher, per_s),
            ("p50_us", None, Better::Lower, p50),
            ("p99_us", Some(10.0), Better::Lower, p99),
        ];
        let (ours, peers) = measure(ctx, &what, |s| s.call_cross_core(&load));
        let mut out = outcome(self.name(), &text, &metrics, &ours, &peers);
        // The same calls with Quark's shards parking when idle, beside the same peer figures.
        ctx.progress
            .say("quark", "again, with shards that park when idle");
        let result = ours::engine::QuarkEngine::parked().call_cross_core(&load);
        if let Err(e) = &result {
            ctx.progress.say("quark", &format!("unavailable: {e}"));
        }
        let parked = Measured {
            system: "quark-parked",
            result,
        };
        let text = format!("{text}; quark parked");
        let more = outcome(self.name(), &text, &metrics, &parked, &peers);
        out.rows.extend(more.rows);
        out.work
            .extend(more.work.into_iter().filter(|w| w.system == "quark-parked"));
        out.notes.extend(
            more.notes
                .into_iter()
                .filter(|n| n.starts_with("quark-parked")),
        );
        out.notes.push(
            "quark runs twice: with its default idle policy (shards spin 10 ms before parking) \
             and, in the rows whose load ends in \"quark parked\", with shards that park at once \
             (spin_before_park(None)); actix and ractor threads park when idle"
                .to_owned(),
        );
        out
    }
}

/// `actor.activate`.
pub struct Activate;

impl crate::scenario::Scenario for Activate {
    fn name(&self) -> &'static str {
        "actor.activate"
    }

    fn describe(&self) -> &'static str {
        "activate many distinct actors with one message each, then measure live heap per idle one"
    }

    fn quark_runs(&self) -> &'static str {
        "in this process: every actor homed on shard 0, told from a task on shard 0"
    }

    fn run(&self, ctx: &Ctx<'_>) -> Outcome {
        let load = ActivateLoad {
            actors: ctx.size.pick(1_000, 50_000, 500_000),
        };
        let what = format!("activating {} actors", load.actors);
        let (ours, peers) = measure(ctx, &what, |s| s.activate(&load));
        let text = format!(
            "{} distinct actors, one message each, left idle",
            load.actors
        );
        let spec = |metric, target, better| RowSpec {
            scenario: self.name(),
            metric,
            target,
            better,
            durable: false,
            load: &text,
        };
        let rate = |r: &ActivateRun| Some(r.actors as f64 / r.secs);
        let bytes = |r: &ActivateRun| r.bytes_per_activation;
        let rows = vec![
            row(
                &spec("activations_per_s", Some(600_000.0), Better::Higher),
                &ours,
                &peers,
                rate,
            ),
            row(
                &spec("bytes_per_activation", Some(512.0), Better::Lower),
                &ours,
                &peers,
                bytes,
            ),
        ];
        let mut out = Outcome {
            rows,
            ..Outcome::default()
        };
        for m in std::iter::once(&ours).chain(&peers) {
            out.work.extend(work(m, |r| (r.actors, r.hash)));
        }
        out.notes.push(
            "bytes_per_activation: net live heap bytes (counting global allocator, all threads) \
             from before the first activation to when every actor has handled its first \
             message, divided by the number of actors"
                .to_owned(),
        );
        out
    }
}
