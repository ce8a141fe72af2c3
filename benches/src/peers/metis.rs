//! METIS 5.1 (`gpmetis`, the Debian `metis` package) as the reference partitioner of
//! `placement.locality`: the same graph, k = shards, 10 % imbalance (`-ufactor=100`).
//!
//! METIS partitions from scratch and numbers its parts arbitrarily, so before its moves are
//! counted its parts are relabelled to the current placement: part `p` becomes the shard it
//! overlaps most, as a one-to-one assignment (greedy by overlap, then improved by pairwise
//! swaps until none gains). The edge cut does not depend on the labels; the cost-weighted cut
//! does, and is computed on the relabelled parts.
//!
//! Invariants: the graph METIS reads is ours with parallel edges merged (METIS rejects
//! duplicates), the same vertex and edge weights; a missing `gpmetis` is a loud
//! [`PeerError::Unavailable`] naming the package, never a silent empty column; METIS's own
//! partitioning time (its "Partitioning" line) is reported, not file I/O.
use super::PeerError;
use quark_placement::graph::CommGraph;
use quark_placement::layout::ShardId;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

/// The program run (from `PATH`).
const GPMETIS: &str = "gpmetis";

/// What one METIS run gave.
#[derive(Clone, Debug, PartialEq)]
pub struct MetisRun {
    /// The shard of every vertex, relabelled to the current placement.
    pub parts: Vec<ShardId>,
    /// METIS's own partitioning time, in milliseconds.
    pub partition_ms: f64,
}

/// Partitions `graph` into `shards` parts with `gpmetis` (10 % imbalance, fixed seed) and
/// relabels the parts to `current`.
pub fn partition(
    graph: &CommGraph,
    shards: usize,
    current: &[ShardId],
) -> Result<MetisRun, PeerError> {
    let dir = tempfile::tempdir().map_err(|e| PeerError::because("metis temp dir", e))?;
    let file = dir.path().join("graph.metis");
    std::fs::write(&file, metis_text(graph))
        .map_err(|e| PeerError::because("writing the METIS graph", e))?;
    let output = Command::new(GPMETIS)
        .args(["-ufactor=100", "-seed=1"])
        .arg(&file)
        .arg(shards.to_string())
        .output()
        .map_err(|e| {
            PeerError::because(
                "gpmetis not runnable (scripts/bench.sh installs the Debian `metis` package)",
                e,
            )
        })?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(PeerError::Unavailable(format!(
            "gpmetis failed ({}): {stdout} {stderr}",
            output.status
        )));
    }
    let parts = read_parts(&part_file(&file, shards), graph.vertex_count(), shards)?;
    Ok(MetisRun {
        parts: relabel(&parts, current, shards),
        partition_ms: partition_seconds(&stdout).unwrap_or(0.0) * 1e3,
    })
}

fn part_file(graph_file: &Path, shards: usize) -> std::path::PathBuf {
    let mut name = graph_file.as_os_str().to_owned();
    name.push(format!(".part.{shards}"));
    name.into()
}

/// The graph in METIS's format: a header `n m 011` (vertex and edge weights), then one line
/// per vertex: its weight, then `neighbour weight` pairs, 1-based, parallel edges merged.
pub fn metis_text(graph: &CommGraph) -> String {
    let vertices = graph.vertex_count();
    let mut rows: Vec<Vec<(u32, u64)>> = Vec::with_capacity(vertices);
    let mut entries = 0usize;
    for v in 0..vertices as u32 {
        let mut row: Vec<(u32, u64)> = graph.neighbors(v).map(|(u, w)| (u, u64::from(w))).collect();
        row.sort_unstable_by_key(|&(u, _)| u);
        let mut merged: Vec<(u32, u64)> = Vec::with_capacity(row.len());
        for (u, w) in row {
            match merged.last_mut() {
                Some(last) if last.0 == u => last.1 += w,
                _ => merged.push((u, w)),
            }
        }
        entries += merged.len();
        rows.push(merged);
    }
    let mut text = String::with_capacity(entries * 12 + vertices * 4);
    let _ = writeln!(text, "{vertices} {} 011", entries / 2);
    for (v, row) in rows.iter().enumerate() {
        let _ = write!(text, "{}", graph.vertex_weights()[v]);
        for &(u, w) in row {
            let _ = write!(text, " {} {w}", u + 1);
        }
        text.push('\n');
    }
    text
}

fn read_parts(file: &Path, vertices: usize, shards: usize) -> Result<Vec<u32>, PeerError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| PeerError::because("reading gpmetis's partition file", e))?;
    let parts: Vec<u32> = text
        .lines()
        .map(|l| l.trim().parse::<u32>())
        .collect::<Result<_, _>>()
        .map_err(|e| PeerError::because("parsing gpmetis's partition file", e))?;
    if parts.len() != vertices || parts.iter().any(|&p| p as usize >= shards) {
        return Err(PeerError::Unavailable(format!(
            "gpmetis gave {} parts for {vertices} vertices and {shards} shards",
            parts.len()
        )));
    }
    Ok(parts)
}

/// Reads "Partitioning: 1.234 sec" from gpmetis's timing report.
fn partition_seconds(stdout: &str) -> Option<f64> {
    let line = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("Partitioning:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Relabels `parts` (0..shards) to the shards of `current` they overlap most, one to one:
/// greedy by overlap, then pairwise swaps of labels while the total overlap grows.
pub fn relabel(parts: &[u32], current: &[ShardId], shards: usize) -> Vec<ShardId> {
    let mut overlap = vec![0u64; shards * shards];
    for (&p, s) in parts.iter().zip(current) {
        overlap[p as usize * shards + s.index()] += 1;
    }
    let mut pairs: Vec<(u64, usize, usize)> = (0..shards * shards)
        .map(|i| (overlap[i], i / shards, i % shards))
        .collect();
    pairs.sort_unstable_by_key(|&(o, p, s)| (std::cmp::Reverse(o), p, s));
    let (mut label, mut taken) = (vec![usize::MAX; shards], vec![false; shards]);
    for (_, p, s) in pairs {
        if label[p] == usize::MAX && !taken[s] {
            label[p] = s;
            taken[s] = true;
        }
    }
    let gain = |label: &[usize], a: usize, b: usize| {
        let now = overlap[a * shards + label[a]] + overlap[b * shards + label[b]];
        let swapped = overlap[a * shards + label[b]] + overlap[b * shards + label[a]];
        swapped > now
    };
    let mut improved = true;
    while improved {
        improved = false;
        for a in 0..shards {
            for b in a + 1..shards {
                if gain(&label, a, b) {
                    label.swap(a, b);
                    improved = true;
                }
            }
        }
    }
    parts
        .iter()
        .map(|&p| ShardId(label[p as usize] as u32))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_edges_are_merged_and_indices_are_one_based() {
        let graph =
            CommGraph::from_edges(vec![1, 2, 3], &[(0, 1, 4), (1, 0, 1), (1, 2, 2)]).unwrap();
        assert_eq!(metis_text(&graph), "3 2 011\n1 2 5\n2 1 5 3 2\n3 2 2\n");
    }

    #[test]
    fn parts_are_relabelled_to_the_shards_they_overlap_most() {
        let current: Vec<ShardId> = [0, 0, 0, 1, 1, 2, 2, 2].map(ShardId).to_vec();
        // Part 2 is mostly shard 0, part 0 mostly shard 1, part 1 mostly shard 2.
        let parts = [2, 2, 1, 0, 0, 1, 1, 2];
        let relabelled = relabel(&parts, &current, 3);
        let expected: Vec<ShardId> = [0, 0, 2, 1, 1, 2, 2, 0].map(ShardId).to_vec();
        assert_eq!(relabelled, expected);
    }

    #[test]
    fn swaps_fix_a_greedy_labelling() {
        // Greedy takes (part 0 → shard 0, overlap 3) first and leaves part 1 to shard 1
        // (overlap 0); labelling part 0 → 1 and part 1 → 0 overlaps 2 + 2 = 4 > 3.
        let current: Vec<ShardId> = [0, 0, 0, 1, 1, 0, 0].map(ShardId).to_vec();
        let parts = [0, 0, 0, 0, 0, 1, 1];
        let relabelled = relabel(&parts, &current, 2);
        let overlap = relabelled
            .iter()
            .zip(&current)
            .filter(|(a, b)| a == b)
            .count();
        assert_eq!(overlap, 4);
    }

    #[test]
    fn the_timing_line_is_read() {
        let stdout = "Timing Information ---\n  I/O:  0.1 sec\n  Partitioning:  0.250 sec \
                      (METIS time)\n";
        assert_eq!(partition_seconds(stdout), Some(0.25));
    }
}
