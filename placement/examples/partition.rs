//! Prints a before/after of partitioning runs: the three locality workloads, the memory
//! rebalance, and (with `--large`) the timed plan for 1,000,000 actors and 10,000,000 edges.
//!
//! Usage: `cargo run --release -p quark-placement --example partition -- [tiny|quick|full]
//! [--large] [--seed N]`. Sizes default to `quick`.

use quark_placement::workloads::{self, LocalityWorkload, Size};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let size = match args
        .iter()
        .find(|a| !a.starts_with("--") && a.parse::<u64>().is_err())
    {
        Some(s) if s == "tiny" => Size::Tiny,
        Some(s) if s == "full" => Size::Full,
        _ => Size::Quick,
    };
    let seed = args
        .iter()
        .position(|a| a == "--seed")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(42);
    match quark_placement::probe::topology() {
        Ok(t) => println!(
            "this machine: {} NUMA node(s), {} core(s), {} hardware thread(s)",
            t.numa_count(),
            t.core_count(),
            t.cpu_count()
        ),
        Err(e) => println!("this machine: topology probe failed: {e}"),
    }
    println!("size {size:?}, seed {seed}");
    print_locality(size, seed);
    print_memory(size, seed);
    tracker_cost();
    if args.iter().any(|a| a == "--large") {
        print_large_plan(size, seed);
    }
}

fn print_large_plan(size: Size, seed: u64) {
    let l = workloads::run_large_plan(size, seed);
    println!(
        "large plan: {} actors, {} edges: graph built in {:.0} ms, plan {:.0} ms \
         ({:.0} ms CPU), best of 3, {} moves, cut -{:.1} %",
        l.actors, l.edges, l.build_ms, l.plan_ms, l.plan_cpu_ms, l.moves, l.cut_reduction_pct
    );
}

/// Times the tracker on the message path: 10,000,000 messages over 200,000 pairs with a
/// skew toward a few hot pairs, in a tracker bounded to 4 MiB, counting every message and
/// one in 16.
fn tracker_cost() {
    for sample_every in [1, 16] {
        tracker_cost_sampled(sample_every);
    }
}

fn tracker_cost_sampled(sample_every: u32) {
    use quark_placement::tracker::{Config, Tracker};
    let config = Config {
        sample_every,
        ..Config::default()
    };
    let Ok(mut tracker) = Tracker::new(config) else {
        return;
    };
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let pairs: Vec<(u64, u64)> = (0..10_000_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            // Squaring a uniform number skews toward small pair numbers: a few hot pairs.
            let unit = (state >> 11) as f64 / (1u64 << 53) as f64;
            let pair = (unit * unit * 200_000.0) as u64;
            (pair, pair + 1_000_000)
        })
        .collect();
    let started = std::time::Instant::now();
    for &(a, b) in &pairs {
        tracker.record(a, b);
    }
    let record_ns = started.elapsed().as_secs_f64() * 1e9 / pairs.len() as f64;
    println!(
        "tracker (1 in {sample_every}): {:.1} ns per message, {} counters in {} KiB",
        record_ns,
        tracker.capacity(),
        tracker.memory_bytes() / 1024
    );
}

fn print_locality(size: Size, seed: u64) {
    println!(
        "{:<12} {:>8} {:>9} {:>6} {:>13} {:>13} {:>7} {:>10} {:>6} {:>8} {:>8} {:>8} {:>8}",
        "workload",
        "actors",
        "edges",
        "shards",
        "cut before",
        "cut after",
        "cut -%",
        "edge cut-%",
        "rounds",
        "moves",
        "plan ms",
        "cpu ms",
        "imbal %"
    );
    for w in [
        LocalityWorkload::Halo,
        LocalityWorkload::Communities,
        LocalityWorkload::Random,
    ] {
        let r = workloads::run_locality(w, size, seed);
        let edge_pct = if r.edge_cut_before > 0.0 {
            (r.edge_cut_before - r.edge_cut_after) / r.edge_cut_before * 100.0
        } else {
            0.0
        };
        println!(
            "{:<12} {:>8} {:>9} {:>6} {:>13.0} {:>13.0} {:>7.1} {:>10.1} {:>6} {:>8} {:>8.1} \
             {:>8.1} {:>8.2}",
            format!("{w:?}"),
            r.actors,
            r.edges,
            r.shards,
            r.cut_before,
            r.cut_after,
            r.cut_reduction_pct,
            edge_pct,
            r.converge_rounds,
            r.moves,
            r.plan_ms,
            r.plan_cpu_ms,
            r.imbalance_pct
        );
    }
}

fn print_memory(size: Size, seed: u64) {
    let m = workloads::run_memory(size, seed);
    println!(
        "memory: {} actors on {} shards, imbalance {:.1} % -> {:.1} % with {} moves \
         (lower bound {}) in {} rounds",
        m.actors,
        m.shards,
        m.imbalance_before_pct,
        m.imbalance_after_pct,
        m.moves,
        m.moves_lower_bound,
        m.rounds
    );
}
