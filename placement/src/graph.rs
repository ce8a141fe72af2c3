//! The communication graph in the compact form the partitioner works on.
//!
//! petgraph is the building API (and what the tracker exports), but a petgraph `Graph` spends
//! about 24 bytes per edge on linked adjacency lists and walks them through pointers. The plan
//! for 1,000,000 actors and 10,000,000 edges must run in well under a second on one core, so
//! [`CommGraph`] stores the graph once as CSR (compressed sparse rows): one offset per vertex,
//! then every edge twice (once per endpoint) as a target index and an integer weight.
//! Integer weights keep every cut and gain exact, so "a round never raises the cut" holds
//! bit for bit and rounds cannot oscillate on rounding noise.
//!
//! Invariants: the graph is undirected (an edge is stored at both endpoints with the same
//! weight); there are no self loops and no zero weights (both are dropped on input); parallel
//! edges are kept and simply add up; the directed entry count fits in `u32`.

use petgraph::EdgeType;
use petgraph::graph::{Graph, IndexType};
use petgraph::visit::EdgeRef;

use crate::error::{Error, Result};

/// An undirected weighted graph in CSR form, with a weight (load) per vertex.
///
/// # Example
/// ```
/// use quark_placement::graph::CommGraph;
/// // A triangle 0-1-2 with unit vertex weights; the edge 0-1 carried 5 messages.
/// let graph = CommGraph::from_edges(vec![1, 1, 1], &[(0, 1, 5), (1, 2, 1), (2, 0, 1)]).unwrap();
/// assert_eq!(graph.vertex_count(), 3);
/// assert_eq!(graph.edge_count(), 3);
/// assert_eq!(graph.neighbors(0).map(|(_, w)| w).sum::<u32>(), 6);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommGraph {
    offsets: Vec<u32>,
    targets: Vec<u32>,
    weights: Vec<u32>,
    vertex_weights: Vec<u32>,
}

impl CommGraph {
    /// Builds from a vertex weight per vertex and an edge list `(a, b, messages)`.
    ///
    /// Self loops and zero-weight edges are dropped; `(a, b)` and `(b, a)` are both kept and add
    /// up. Fails if an endpoint is not a vertex or the graph does not fit the `u32` indices.
    pub fn from_edges(vertex_weights: Vec<u32>, edges: &[(u32, u32, u32)]) -> Result<Self> {
        let vertices = vertex_weights.len();
        if u32::try_from(vertices).is_err() {
            return Err(Error::GraphTooLarge("more than u32::MAX vertices"));
        }
        let mut degrees = vec![0u32; vertices + 1];
        let mut entries = 0u64;
        for &(a, b, w) in edges {
            for v in [a, b] {
                if v as usize >= vertices {
                    return Err(Error::VertexOutOfRange {
                        vertex: v,
                        vertices,
                    });
                }
            }
            if a != b && w > 0 {
                degrees[a as usize] += 1;
                degrees[b as usize] += 1;
                entries += 2;
            }
        }
        if u32::try_from(entries).is_err() {
            return Err(Error::GraphTooLarge(
                "more than u32::MAX directed edge entries",
            ));
        }
        // Exclusive prefix sums: offsets[v] is where v's row starts.
        let mut offsets = vec![0u32; vertices + 1];
        for v in 0..vertices {
            offsets[v + 1] = offsets[v] + degrees[v];
        }
        let mut cursor = offsets.clone();
        let mut targets = vec![0u32; entries as usize];
        let mut weights = vec![0u32; entries as usize];
        for &(a, b, w) in edges {
            if a == b || w == 0 {
                continue;
            }
            for (from, to) in [(a, b), (b, a)] {
                let slot = cursor[from as usize] as usize;
                targets[slot] = to;
                weights[slot] = w;
                cursor[from as usize] += 1;
            }
        }
        Ok(Self {
            offsets,
            targets,
            weights,
            vertex_weights,
        })
    }

    /// Builds from a petgraph graph. Vertex `i` of the result is node index `i` of `graph`;
    /// `vertex_weight` and `edge_weight` turn node and edge weights into loads and message
    /// counts. A directed graph is read as undirected: `a → b` and `b → a` add up.
    pub fn from_petgraph<N, E, Ty: EdgeType, Ix: IndexType>(
        graph: &Graph<N, E, Ty, Ix>,
        vertex_weight: impl Fn(&N) -> u32,
        edge_weight: impl Fn(&E) -> u32,
    ) -> Result<Self> {
        let weights = graph.node_weights().map(vertex_weight).collect();
        let mut edges = Vec::with_capacity(graph.edge_count());
        for edge in graph.edge_references() {
            let (a, b) = (edge.source().index(), edge.target().index());
            let a = u32::try_from(a).map_err(|_| Error::GraphTooLarge("vertex index"))?;
            let b = u32::try_from(b).map_err(|_| Error::GraphTooLarge("vertex index"))?;
            edges.push((a, b, edge_weight(edge.weight())));
        }
        Self::from_edges(weights, &edges)
    }

    /// Number of vertices.
    pub fn vertex_count(&self) -> usize {
        self.vertex_weights.len()
    }

    /// Number of undirected edges (parallel edges counted separately).
    pub fn edge_count(&self) -> usize {
        self.targets.len() / 2
    }

    /// Weight (load) of every vertex.
    pub fn vertex_weights(&self) -> &[u32] {
        &self.vertex_weights
    }

    /// Sum of all vertex weights.
    pub fn total_vertex_weight(&self) -> u64 {
        self.vertex_weights.iter().map(|&w| u64::from(w)).sum()
    }

    /// Sum of all edge weights (each undirected edge once).
    pub fn total_edge_weight(&self) -> u64 {
        self.weights.iter().map(|&w| u64::from(w)).sum::<u64>() / 2
    }

    /// Neighbours of `v` with the weight of each edge; empty if `v` is out of range.
    pub fn neighbors(&self, v: u32) -> impl Iterator<Item = (u32, u32)> + '_ {
        let (start, end) = self.row(v);
        self.targets[start..end]
            .iter()
            .copied()
            .zip(self.weights[start..end].iter().copied())
    }

    /// The slice bounds of `v`'s row (empty when `v` is out of range).
    pub(crate) fn row(&self, v: u32) -> (usize, usize) {
        let v = v as usize;
        match (self.offsets.get(v), self.offsets.get(v + 1)) {
            (Some(&start), Some(&end)) => (start as usize, end as usize),
            _ => (0, 0),
        }
    }

    /// Targets and weights of all rows, to be sliced with [`Self::row`].
    pub(crate) fn adjacency(&self) -> (&[u32], &[u32]) {
        (&self.targets, &self.weights)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use petgraph::graph::{DiGraph, UnGraph};

    #[test]
    fn edges_are_stored_at_both_ends_without_self_loops_or_zeros() {
        let graph =
            CommGraph::from_edges(vec![1, 2, 3], &[(0, 1, 4), (1, 1, 9), (1, 2, 0), (2, 0, 2)])
                .unwrap();
        assert_eq!(graph.edge_count(), 2);
        assert_eq!(graph.neighbors(0).collect::<Vec<_>>(), vec![(1, 4), (2, 2)]);
        assert_eq!(graph.neighbors(1).collect::<Vec<_>>(), vec![(0, 4)]);
        assert_eq!(graph.neighbors(2).collect::<Vec<_>>(), vec![(0, 2)]);
        assert_eq!(graph.neighbors(7).count(), 0);
        assert_eq!(graph.total_edge_weight(), 6);
        assert_eq!(graph.total_vertex_weight(), 6);
    }

    #[test]
    fn out_of_range_endpoints_are_rejected() {
        let result = CommGraph::from_edges(vec![1, 1], &[(0, 2, 1)]);
        assert_eq!(
            result,
            Err(Error::VertexOutOfRange {
                vertex: 2,
                vertices: 2
            })
        );
    }

    #[test]
    fn petgraph_directed_edges_add_up_both_ways() {
        let mut graph = DiGraph::<u32, u64>::new();
        let a = graph.add_node(1);
        let b = graph.add_node(3);
        graph.add_edge(a, b, 5);
        graph.add_edge(b, a, 7);
        let comm = CommGraph::from_petgraph(&graph, |&w| w, |&m| m as u32).unwrap();
        assert_eq!(comm.vertex_weights(), &[1, 3]);
        assert_eq!(comm.neighbors(0).map(|(_, w)| w).sum::<u32>(), 12);
        let mut undirected = UnGraph::<(), u32>::new_undirected();
        let x = undirected.add_node(());
        let y = undirected.add_node(());
        undirected.add_edge(x, y, 2);
        let comm = CommGraph::from_petgraph(&undirected, |_| 1, |&m| m).unwrap();
        assert_eq!(comm.neighbors(1).collect::<Vec<_>>(), vec![(0, 2)]);
    }
}
