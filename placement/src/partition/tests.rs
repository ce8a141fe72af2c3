//! Tests of the partitioner: exact examples, bad input, and property tests of the plan's
//! guarantees (limits, immovable vertices, move bound, exact cut, determinism, convergence).

use super::*;
use crate::topology::Topology;
use proptest::prelude::*;

fn problem<'a>(
    graph: &'a CommGraph,
    assignment: &'a [ShardId],
    layout: &'a ShardLayout,
    immovable: &'a [bool],
) -> Problem<'a> {
    Problem {
        graph,
        assignment,
        layout,
        immovable,
        capacities: None,
    }
}

fn shards(ids: &[u32]) -> Vec<ShardId> {
    ids.iter().map(|&s| ShardId(s)).collect()
}

#[test]
fn a_split_clique_is_reunited_on_the_shard_holding_most_of_it() {
    // A 4-clique with 3 members on shard 0 and one on shard 1, plus two loners on shard 1.
    let edges = [
        (0, 1, 5),
        (0, 2, 5),
        (0, 3, 5),
        (1, 2, 5),
        (1, 3, 5),
        (2, 3, 5),
    ];
    let graph = CommGraph::from_edges(vec![1; 6], &edges).unwrap();
    let layout = ShardLayout::flat(2).unwrap();
    let assignment = shards(&[0, 0, 0, 1, 1, 1]);
    let config = Config {
        balance_tolerance: 0.5,
        floor_tolerance: 0.5,
        ..Config::default()
    };
    let plan = plan(&problem(&graph, &assignment, &layout, &[]), &config).unwrap();
    assert_eq!(
        plan.moves,
        vec![Move {
            vertex: 3,
            from: ShardId(1),
            to: ShardId(0)
        }]
    );
    assert_eq!((plan.cut_before, plan.cut_after), (30, 0));
    assert_eq!(plan.loads_after, vec![4, 2]);
}

/// Bug: nothing bounded the lightest shard, so refinement drained shards to 0.2-0.7 of the
/// mean (idle cores) whenever that lowered the cut. Here every vertex talks to the hub on
/// shard 0, and a loose upper bound lets shard 0 take them all; the floor keeps shard 1 at
/// 0.9 of its fair share (the hub itself joins the larger half on shard 1).
#[test]
fn no_move_takes_a_shard_below_its_floor() {
    let edges: Vec<(u32, u32, u32)> = (1..20).map(|v| (0, v, 5)).collect();
    let graph = CommGraph::from_edges(vec![1; 20], &edges).unwrap();
    let layout = ShardLayout::flat(2).unwrap();
    let assignment: Vec<ShardId> = (0..20).map(|v| ShardId(u32::from(v >= 10))).collect();
    let config = Config {
        balance_tolerance: 1.0,
        ..Config::default()
    };
    let plan = plan(&problem(&graph, &assignment, &layout, &[]), &config).unwrap();
    assert_eq!(plan.floors, vec![9, 9]);
    assert_eq!(plan.loads_after, vec![9, 11]);
    assert!(plan.cut_after < plan.cut_before);
    // Without a floor the same plan empties shard 0.
    let unbounded = Config {
        floor_tolerance: 1.0,
        ..config
    };
    let plan = super::plan(&problem(&graph, &assignment, &layout, &[]), &unbounded).unwrap();
    assert_eq!(plan.loads_after, vec![0, 20]);
}

#[test]
fn full_shards_exchange_instead_of_moving() {
    // Two pairs, each split; zero tolerance leaves no room for a single move.
    let graph = CommGraph::from_edges(vec![1; 4], &[(0, 1, 10), (2, 3, 10)]).unwrap();
    let layout = ShardLayout::flat(2).unwrap();
    let assignment = shards(&[0, 1, 0, 1]);
    let config = Config {
        balance_tolerance: 0.0,
        ..Config::default()
    };
    let plan = plan(&problem(&graph, &assignment, &layout, &[]), &config).unwrap();
    assert_eq!(plan.cut_after, 0);
    assert_eq!(plan.loads_after, vec![2, 2]);
}

#[test]
fn immovable_vertices_pull_their_partners_to_them() {
    let graph = CommGraph::from_edges(vec![1; 4], &[(0, 1, 10), (2, 3, 10)]).unwrap();
    let layout = ShardLayout::flat(2).unwrap();
    let assignment = shards(&[0, 1, 0, 1]);
    let pinned = [false, true, true, false];
    let config = Config {
        balance_tolerance: 0.5,
        ..Config::default()
    };
    let plan = plan(&problem(&graph, &assignment, &layout, &pinned), &config).unwrap();
    let mut moved: Vec<(u32, u32)> = plan.moves.iter().map(|m| (m.vertex, m.to.0)).collect();
    moved.sort_unstable();
    assert_eq!(moved, vec![(0, 1), (3, 0)]);
    assert_eq!(plan.cut_after, 0);
}

#[test]
fn topology_costs_beat_the_plain_cut() {
    // Vertex 0 on shard 1 (host 0) talks to a and b on host 1 (5 messages each) and to c on
    // shard 0 (6 messages). The plain cut would join c; the costs say join host 1.
    let topology = Topology::uniform(2, 1, 2, 1, 0).unwrap();
    let layout = ShardLayout::new(&topology, &Default::default()).unwrap();
    let graph = CommGraph::from_edges(vec![1; 4], &[(0, 1, 5), (0, 2, 5), (0, 3, 6)]).unwrap();
    let assignment = shards(&[1, 2, 3, 0]);
    // One vertex per shard: any floor would pin them all.
    let config = Config {
        balance_tolerance: 1.0,
        floor_tolerance: 1.0,
        cluster_passes: 0,
        ..Config::default()
    };
    let plan = plan(&problem(&graph, &assignment, &layout, &[]), &config).unwrap();
    assert_eq!(
        plan.moves,
        vec![Move {
            vertex: 0,
            from: ShardId(1),
            to: ShardId(2)
        }]
    );
    let c = layout.costs();
    let (same_numa, other_host) = (u64::from(c.same_numa), u64::from(c.other_host));
    assert_eq!(plan.cut_before, 10 * other_host + 6 * same_numa);
    assert_eq!(plan.cut_after, 5 * same_numa + 6 * other_host);
}

#[test]
fn empty_graphs_and_single_shards_plan_nothing() {
    let empty = CommGraph::from_edges(vec![], &[]).unwrap();
    let layout = ShardLayout::flat(3).unwrap();
    let plan = plan(&problem(&empty, &[], &layout, &[]), &Config::default()).unwrap();
    assert!(plan.moves.is_empty() && plan.cut_before == 0);
    let graph = CommGraph::from_edges(vec![1; 3], &[(0, 1, 2), (1, 2, 2)]).unwrap();
    let one = ShardLayout::flat(1).unwrap();
    let assignment = shards(&[0, 0, 0]);
    let plan = super::plan(&problem(&graph, &assignment, &one, &[]), &Config::default());
    assert_eq!(plan.unwrap().moves, vec![]);
}

#[test]
fn capacities_shift_fair_shares() {
    let limits = balance_limits(100, 2, Some(&[30, 100]), 0.1).unwrap();
    assert_eq!(limits, vec![25, 84]);
    assert_eq!(balance_limits(10, 3, None, 0.0).unwrap(), vec![4, 4, 4]);
    assert!(balance_limits(10, 2, Some(&[0, 0]), 0.1).is_err());
    assert!(balance_limits(10, 2, Some(&[1]), 0.1).is_err());
    assert!(balance_limits(10, 2, None, -0.1).is_err());
    assert_eq!(
        balance_floors(100, 2, Some(&[30, 100]), 0.1).unwrap(),
        vec![21, 70]
    );
    assert!(balance_floors(10, 2, None, 1.5).is_err());
    assert!(balance_floors(10, 2, None, f64::NAN).is_err());
}

/// Bug: `balance_limits` summed the capacities with `+`, so capacities whose total overflows
/// `u64` (say one shard reported as `u64::MAX`, "unbounded") panicked in debug builds and
/// wrapped to a wrong fair share in release. Fix: a checked sum, and a typed error.
#[test]
fn capacities_whose_sum_overflows_are_a_typed_error() {
    let overflow = balance_limits(10, 2, Some(&[u64::MAX, 1]), 0.1);
    assert_eq!(
        overflow,
        Err(Error::InvalidSetting {
            name: "capacities",
            reason: "sum overflows u64",
        })
    );
}

#[test]
fn bad_inputs_are_rejected() {
    let graph = CommGraph::from_edges(vec![1; 2], &[(0, 1, 1)]).unwrap();
    let layout = ShardLayout::flat(2).unwrap();
    let config = Config::default();
    let short = shards(&[0]);
    let wrong = shards(&[0, 2]);
    let good = shards(&[0, 1]);
    assert!(plan(&problem(&graph, &short, &layout, &[]), &config).is_err());
    let out_of_range = plan(&problem(&graph, &wrong, &layout, &[]), &config);
    assert_eq!(
        out_of_range,
        Err(Error::ShardOutOfRange {
            shard: 2,
            shards: 2
        })
    );
    assert!(plan(&problem(&graph, &good, &layout, &[true]), &config).is_err());
    let nan = Config {
        balance_tolerance: f64::NAN,
        ..Config::default()
    };
    assert!(plan(&problem(&graph, &good, &layout, &[]), &nan).is_err());
    let negative = Config {
        improvement_min_pct: -1.0,
        ..Config::default()
    };
    assert!(plan(&problem(&graph, &good, &layout, &[]), &negative).is_err());
    assert!(cut(&graph, &short, &layout).is_err());
}

/// A random small instance: graph, layout, assignment, pinned vertices, capacities.
#[derive(Debug, Clone)]
struct Instance {
    graph: CommGraph,
    layout: ShardLayout,
    assignment: Vec<ShardId>,
    immovable: Vec<bool>,
    capacities: Option<Vec<u64>>,
    config: Config,
}

fn instance() -> impl Strategy<Value = Instance> {
    (2usize..40, 0usize..3, any::<u64>()).prop_flat_map(|(vertices, layout_kind, _)| {
        let layout = match layout_kind {
            0 => ShardLayout::flat(2).unwrap(),
            1 => ShardLayout::flat(3).unwrap(),
            _ => {
                let topology = Topology::uniform(2, 2, 1, 1, 0).unwrap();
                ShardLayout::new(&topology, &Default::default()).unwrap()
            }
        };
        let shard_count = layout.len() as u32;
        (
            prop::collection::vec(0u32..4, vertices),
            prop::collection::vec((0..vertices as u32, 0..vertices as u32, 1u32..20), 0..120),
            prop::collection::vec(0..shard_count, vertices),
            prop::collection::vec(prop::bool::weighted(0.15), vertices),
            prop::option::of(prop::collection::vec(1u64..5, layout.len())),
            (
                prop::sample::select(vec![0.0, 0.05, 0.1, 0.3]),
                1usize..50,
                0u32..3,
                prop::sample::select(vec![0.0, 0.1, 0.5]),
                any::<bool>(),
            ),
            Just(layout),
        )
            .prop_map(
                |(weights, edges, assigned, immovable, capacities, knobs, layout)| {
                    let (balance_tolerance, moves_max, cluster_passes) =
                        (knobs.0, knobs.1, knobs.2);
                    let (floor_tolerance, multilevel) = (knobs.3, knobs.4);
                    let config = Config {
                        balance_tolerance,
                        floor_tolerance,
                        multilevel,
                        moves_max,
                        cluster_passes,
                        improvement_min_pct: 0.0,
                        ..Config::default()
                    };
                    Instance {
                        graph: CommGraph::from_edges(weights, &edges).unwrap(),
                        layout,
                        assignment: assigned.into_iter().map(ShardId).collect(),
                        immovable,
                        capacities,
                        config,
                    }
                },
            )
    })
}

fn loads(graph: &CommGraph, assignment: &[ShardId], shards: usize) -> Vec<u64> {
    let mut loads = vec![0u64; shards];
    for (v, s) in assignment.iter().enumerate() {
        loads[s.index()] += u64::from(graph.vertex_weights()[v]);
    }
    loads
}

fn check_plan(
    instance: &Instance,
    assignment: &[ShardId],
    plan: &Plan,
) -> std::result::Result<(), TestCaseError> {
    let config = &instance.config;
    prop_assert!(plan.moves.len() <= config.moves_max);
    let mut seen = std::collections::BTreeSet::new();
    for m in &plan.moves {
        prop_assert!(seen.insert(m.vertex), "vertex {} moved twice", m.vertex);
        prop_assert_eq!(assignment[m.vertex as usize], m.from);
        prop_assert!(m.from != m.to);
        prop_assert!(
            !instance.immovable[m.vertex as usize],
            "pinned {} moved",
            m.vertex
        );
    }
    let mut after = assignment.to_vec();
    plan.apply(&mut after);
    let shards = instance.layout.len();
    let (before_loads, after_loads) = (
        loads(&instance.graph, assignment, shards),
        loads(&instance.graph, &after, shards),
    );
    prop_assert_eq!(&after_loads, &plan.loads_after);
    // The limits the plan reports are checked against the spec, not trusted: each is at most
    // the shard's capacity (when given) and at most (1 + tolerance) x its fair share (or that
    // share rounded up, when the tolerance gives less than one unit).
    let total = instance.graph.total_vertex_weight() as f64;
    let equal = vec![1u64; shards];
    let capacities = instance.capacities.as_deref().unwrap_or(&equal);
    let capacity_total = capacities.iter().sum::<u64>() as f64;
    prop_assert_eq!(plan.limits.len(), shards);
    for (s, (&capacity, &limit)) in capacities.iter().zip(&plan.limits).enumerate() {
        let fair = total * capacity as f64 / capacity_total;
        let tolerated = (fair * (1.0 + config.balance_tolerance)).max(fair.ceil());
        prop_assert!(
            limit as f64 <= tolerated,
            "shard {s}: limit above tolerance"
        );
        if instance.capacities.is_some() {
            prop_assert!(limit <= capacity, "shard {s}: limit above capacity");
        }
    }
    // Floors likewise: at most the fair share and the limit, at least (1 - tolerance) x the
    // fair share unless the limit is lower.
    prop_assert_eq!(plan.floors.len(), shards);
    for (s, (&capacity, &floor)) in capacities.iter().zip(&plan.floors).enumerate() {
        let fair = total * capacity as f64 / capacity_total;
        prop_assert!(
            floor as f64 <= fair && floor <= plan.limits[s],
            "shard {s}: floor"
        );
        let wanted = (fair * (1.0 - config.floor_tolerance)).floor() as u64;
        prop_assert!(
            floor >= wanted.min(plan.limits[s]),
            "shard {s}: floor too low"
        );
    }
    for s in 0..shards {
        let allowed = plan.limits[s].max(before_loads[s]);
        prop_assert!(
            after_loads[s] <= allowed,
            "shard {s}: {} > {allowed}",
            after_loads[s]
        );
        let lowest = plan.floors[s].min(before_loads[s]);
        prop_assert!(
            after_loads[s] >= lowest,
            "shard {s}: {} < {lowest}",
            after_loads[s]
        );
    }
    let cut_after = cut(&instance.graph, &after, &instance.layout).unwrap();
    prop_assert_eq!(cut_after, plan.cut_after);
    if plan.moves.is_empty() {
        prop_assert_eq!(plan.cut_after, plan.cut_before);
    } else {
        prop_assert!(plan.cut_after < plan.cut_before);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    /// Every plan keeps every limit and floor (or moves an already broken one only toward
    /// it), never moves a pinned
    /// vertex, stays within the move bound, reports its cut exactly and is reproducible; on a
    /// static graph repeated rounds never raise the cut and stop moving.
    #[test]
    fn plans_keep_their_guarantees_and_rounds_converge(instance in instance()) {
        let mut assignment = instance.assignment.clone();
        let capacities = instance.capacities.as_deref();
        let mut last_cut = u64::MAX;
        let mut converged = false;
        for _ in 0..200 {
            let problem = Problem {
                graph: &instance.graph,
                assignment: &assignment,
                layout: &instance.layout,
                immovable: &instance.immovable,
                capacities,
            };
            let plan = plan(&problem, &instance.config).unwrap();
            prop_assert_eq!(&plan, &super::plan(&problem, &instance.config).unwrap());
            check_plan(&instance, &assignment, &plan)?;
            prop_assert!(plan.cut_before <= last_cut);
            last_cut = plan.cut_after;
            if plan.moves.is_empty() {
                converged = true;
                break;
            }
            plan.apply(&mut assignment);
        }
        prop_assert!(converged, "no convergence in 200 rounds");
    }
}
