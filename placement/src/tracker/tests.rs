//! Tests of the tracker: the space-saving guarantees against exact counts, decay, sampling,
//! the memory bound and the merge into a petgraph graph.

use super::*;
use proptest::prelude::*;
use std::collections::BTreeMap;

fn small(capacity: usize) -> Tracker {
    let memory_bytes_max = capacity * COUNTER_BYTES_MAX;
    Tracker::new(Config {
        memory_bytes_max,
        sample_every: 1,
        decay: 0.5,
    })
    .unwrap()
}

fn check_heap(tracker: &Tracker) {
    for i in 1..tracker.heap.len() {
        let parent = (i - 1) / ARITY;
        assert!(
            tracker.heap[parent].count <= tracker.heap[i].count,
            "heap broken at {i}"
        );
    }
    for (place, entry) in tracker.heap.iter().enumerate() {
        assert_eq!(tracker.position[entry.slot as usize] as usize, place);
    }
    assert_eq!(tracker.index.len(), tracker.slots.len());
    for (slot, s) in tracker.slots.iter().enumerate() {
        assert_eq!(tracker.index.get(s.pair), Some(slot as u32));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Space-saving's guarantees: a tracked count never underestimates and overestimates by at
    /// most its error; any pair heavier than total / capacity is tracked.
    #[test]
    fn space_saving_bounds_hold(stream in prop::collection::vec((0u64..12, 0u64..12), 1..600)) {
        let mut tracker = small(8);
        let mut exact: BTreeMap<(u64, u64), f64> = BTreeMap::new();
        let mut total = 0.0;
        for &(a, b) in &stream {
            tracker.record(a, b);
            if a != b {
                *exact.entry((a.min(b), a.max(b))).or_default() += 1.0;
                total += 1.0;
            }
        }
        check_heap(&tracker);
        prop_assert!(tracker.slots.len() <= tracker.capacity());
        let errors: BTreeMap<(u64, u64), f64> =
            tracker.errors().into_iter().map(|(a, b, e)| ((a, b), e)).collect();
        let tracked: BTreeMap<(u64, u64), f64> =
            tracker.edges().into_iter().map(|(a, b, c)| ((a, b), c)).collect();
        for (pair, &count) in &tracked {
            let truth = exact.get(pair).copied().unwrap_or(0.0);
            prop_assert!(count >= truth);
            prop_assert!(count - errors[pair] <= truth);
        }
        for (pair, &truth) in &exact {
            if truth > total / tracker.capacity() as f64 {
                prop_assert!(tracked.contains_key(pair), "heavy pair {pair:?} lost");
            }
        }
    }
}

#[test]
fn decay_fades_old_traffic_and_keeps_new_traffic_whole() {
    let mut tracker = small(4);
    tracker.record_many(1, 2, 8);
    tracker.decay();
    tracker.record_many(3, 4, 3);
    tracker.decay();
    assert_eq!(tracker.edges(), vec![(1, 2, 2.0), (3, 4, 1.5)]);
    // Many epochs force the rescale path; counts keep their meaning.
    for _ in 0..60 {
        tracker.decay();
    }
    tracker.record_many(5, 6, 1);
    let edges = tracker.edges();
    assert_eq!(edges[0], (5, 6, 1.0));
    assert!(edges[1].2 < 1e-12);
}

#[test]
fn sampling_counts_one_in_n_with_weight_n() {
    let config = Config {
        memory_bytes_max: 1 << 16,
        sample_every: 4,
        decay: 1.0,
    };
    let mut tracker = Tracker::new(config).unwrap();
    for _ in 0..100 {
        tracker.record(7, 9);
    }
    tracker.record(9, 9);
    assert_eq!(tracker.edges(), vec![(7, 9, 100.0)]);
}

#[test]
fn memory_stays_under_its_bound() {
    for memory_bytes_max in [200, 1_000, 64 << 10, 1 << 20, 10 << 20] {
        let config = Config {
            memory_bytes_max,
            sample_every: 1,
            ..Config::default()
        };
        let mut tracker = Tracker::new(config).unwrap();
        for i in 0..(tracker.capacity() as u64 * 3) {
            tracker.record(i, i + 1);
        }
        assert_eq!(tracker.slots.len(), tracker.capacity());
        assert!(
            tracker.memory_bytes() <= memory_bytes_max,
            "{memory_bytes_max}"
        );
        check_heap(&tracker);
    }
}

#[test]
fn bad_settings_are_rejected() {
    let tiny = Config {
        memory_bytes_max: 10,
        ..Config::default()
    };
    assert!(Tracker::new(tiny).is_err());
    assert!(
        Tracker::new(Config {
            sample_every: 0,
            ..Config::default()
        })
        .is_err()
    );
    assert!(
        Tracker::new(Config {
            decay: 0.0,
            ..Config::default()
        })
        .is_err()
    );
    assert!(
        Tracker::new(Config {
            decay: 1.5,
            ..Config::default()
        })
        .is_err()
    );
}

#[test]
fn graph_merges_trackers_in_any_order() {
    let edges_a = vec![(5, 1, 2.0), (1, 9, 1.2)];
    let edges_b = vec![(1, 5, 3.0), (9, 9, 4.0), (2, 3, 0.2)];
    let one = graph(edges_a.iter().chain(&edges_b).copied());
    let two = graph(edges_b.iter().chain(&edges_a).copied());
    let describe = |g: &UnGraph<ActorId, u64>| {
        let mut out: Vec<(u64, u64, u64)> = g
            .edge_indices()
            .map(|e| {
                let (a, b) = g.edge_endpoints(e).unwrap();
                (g[a], g[b], g[e])
            })
            .collect();
        out.sort_unstable();
        out
    };
    assert_eq!(describe(&one), vec![(1, 5, 5), (1, 9, 1)]);
    assert_eq!(describe(&one), describe(&two));
    assert_eq!(
        one.node_weights().copied().collect::<Vec<_>>(),
        vec![1, 2, 3, 5, 9]
    );
}
