//! The communication tracker: who talks to whom, kept in bounded memory on the message path.
//!
//! It is the space-saving heavy-hitter sketch (Metwally, Agrawal, El Abbadi, 2005) over
//! unordered actor pairs: at most `capacity` counters; a pair without a counter, when all are
//! taken, replaces the pair with the smallest count and inherits that count as its error
//! bound. Every pair whose true weight exceeds `total / capacity` is guaranteed a counter, so
//! the heavy edges a partitioner needs are never lost, whatever the order of arrival.
//!
//! Decay, so that old traffic fades, is lazy: instead of multiplying every counter by the
//! decay factor each epoch, new traffic is counted in a unit that grows by `1 / decay` per
//! epoch, which keeps the counters' order (and so the min-heap) intact at no cost; counters
//! are rescaled only when the unit grows large. Sampling (count one message in
//! `sample_every`, with weight `sample_every`) cuts the per-message cost further.
//!
//! The smallest counter is found with a 4-ary min-heap that holds the counts themselves (not
//! slot numbers): an eviction walks about half as many levels as a binary heap, and the four
//! children it compares share one cache line.
//!
//! Invariants: `slots`, `heap` and `position` describe the same counters (`heap` is a 4-ary
//! min-heap of `(count, slot)`, `position[slot]` is the slot's place in `heap`); `index` maps
//! each tracked pair to its slot; the number of counters never exceeds `capacity`, which is
//! derived from the memory bound so that [`Tracker::memory_bytes`] stays under it.

use petgraph::graph::{NodeIndex, UnGraph};

use crate::error::{Error, Result};
use index::PairIndex;

mod index;

/// The engine's numeric actor identity (a hash of type and key).
pub type ActorId = u64;

/// Settings of a [`Tracker`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Config {
    /// Upper bound of the tracker's heap memory, in bytes; sets how many pairs it tracks.
    pub memory_bytes_max: usize,
    /// Count one message in this many (1 counts every message). The default, 16, keeps the
    /// message-path cost to a counter decrement for 15 messages in 16 (a counted message costs
    /// an index lookup and, when the pair is new, an eviction: over a hundred nanoseconds when
    /// the tables are out of cache); pairs heavy enough to matter send thousands of messages,
    /// so their estimate moves by a few percent.
    pub sample_every: u32,
    /// Weight left to old traffic after one [`Tracker::decay`] (0 < decay <= 1).
    pub decay: f64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            memory_bytes_max: 4 << 20,
            sample_every: 16,
            decay: 0.5,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    pair: (ActorId, ActorId),
    error: f64,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    count: f64,
    slot: u32,
}

/// Bytes a counter costs at most: the slot, its heap and position entries, and its share of
/// the index (at most half full, rounded up to a power of two: up to 4 buckets of 24 bytes).
const COUNTER_BYTES_MAX: usize = 24 + 16 + 4 + 4 * 24;

/// Children per heap node.
const ARITY: usize = 4;

/// A space-saving top-K sketch of actor-to-actor traffic, with decay and sampling.
///
/// # Example
/// ```
/// use quark_placement::tracker::{Config, Tracker};
/// let config = Config { sample_every: 1, ..Config::default() };
/// let mut tracker = Tracker::new(config).unwrap();
/// for _ in 0..10 {
///     tracker.record(1, 2);
/// }
/// tracker.record(2, 1);
/// tracker.decay(); // old traffic now counts half
/// let edges = tracker.edges();
/// assert_eq!(edges, vec![(1, 2, 5.5)]);
/// ```
#[derive(Debug, Clone)]
pub struct Tracker {
    index: PairIndex,
    slots: Vec<Slot>,
    heap: Vec<Entry>,
    position: Vec<u32>,
    capacity: usize,
    unit: f64,
    decay: f64,
    sample_every: u32,
    countdown: u32,
}

impl Tracker {
    /// A tracker holding as many pairs as `config.memory_bytes_max` allows.
    pub fn new(config: Config) -> Result<Self> {
        if config.sample_every == 0 {
            return Err(Error::InvalidSetting {
                name: "sample_every",
                reason: "must be >= 1",
            });
        }
        if !(config.decay > 0.0 && config.decay <= 1.0) {
            return Err(Error::InvalidSetting {
                name: "decay",
                reason: "must be in (0, 1]",
            });
        }
        // The hash table rounds its size up, so shrink until what is allocated fits the bound.
        let mut capacity = (config.memory_bytes_max / COUNTER_BYTES_MAX).min(u32::MAX as usize);
        while capacity > 0 {
            let tracker = Self::with_capacity(capacity, config);
            if tracker.memory_bytes() <= config.memory_bytes_max {
                return Ok(tracker);
            }
            capacity = capacity * 7 / 8;
        }
        Err(Error::InvalidSetting {
            name: "memory_bytes_max",
            reason: "too small for a counter",
        })
    }

    fn with_capacity(capacity: usize, config: Config) -> Self {
        Self {
            index: PairIndex::with_capacity(capacity),
            slots: Vec::with_capacity(capacity),
            heap: Vec::with_capacity(capacity),
            position: Vec::with_capacity(capacity),
            capacity,
            unit: 1.0,
            decay: config.decay,
            sample_every: config.sample_every,
            countdown: config.sample_every,
        }
    }

    /// How many pairs the tracker can hold.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Heap memory the tracker uses, in bytes (allocated capacity, not just what is filled).
    pub fn memory_bytes(&self) -> usize {
        // hashbrown keeps at least 4 buckets and at most 7/8 of them full.
        self.index.bytes()
            + self.slots.capacity() * size_of::<Slot>()
            + self.heap.capacity() * size_of::<Entry>()
            + self.position.capacity() * size_of::<u32>()
    }

    /// Records one message from `from` to `to` (direction is ignored; self-messages are).
    #[inline]
    pub fn record(&mut self, from: ActorId, to: ActorId) {
        if self.sample_every > 1 {
            self.countdown -= 1;
            if self.countdown > 0 {
                return;
            }
            self.countdown = self.sample_every;
        }
        self.add(from, to, f64::from(self.sample_every));
    }

    /// Records `messages` messages between two actors at once, bypassing sampling.
    pub fn record_many(&mut self, from: ActorId, to: ActorId, messages: u64) {
        self.add(from, to, messages as f64);
    }

    fn add(&mut self, a: ActorId, b: ActorId, messages: f64) {
        if a == b {
            return;
        }
        let pair = (a.min(b), a.max(b));
        let amount = messages * self.unit;
        if let Some(slot) = self.index.get(pair) {
            let place = self.position[slot as usize] as usize;
            self.heap[place].count += amount;
            self.sift_down(place);
        } else if self.slots.len() < self.capacity {
            let slot = self.slots.len() as u32;
            self.slots.push(Slot { pair, error: 0.0 });
            self.position.push(self.heap.len() as u32);
            self.heap.push(Entry {
                count: amount,
                slot,
            });
            self.index.insert(pair, slot);
            self.sift_up(self.heap.len() - 1);
        } else {
            // Space-saving: the newcomer takes the smallest counter and its count as error.
            let root = self.heap[0];
            let evicted = &mut self.slots[root.slot as usize];
            self.index.remove(evicted.pair);
            evicted.error = root.count;
            evicted.pair = pair;
            self.index.insert(pair, root.slot);
            self.heap[0].count += amount;
            self.sift_down(0);
        }
    }

    /// Ages the traffic seen so far by the decay factor (call once per epoch).
    pub fn decay(&mut self) {
        self.unit /= self.decay;
        if self.unit > 1e12 {
            for slot in &mut self.slots {
                slot.error /= self.unit;
            }
            for entry in &mut self.heap {
                entry.count /= self.unit;
            }
            self.unit = 1.0;
        }
    }

    /// Every tracked pair `(a, b, messages)` with `a < b`, in decayed message counts,
    /// heaviest first (ties by pair).
    pub fn edges(&self) -> Vec<(ActorId, ActorId, f64)> {
        let mut edges: Vec<_> = self
            .slots
            .iter()
            .enumerate()
            .map(|(slot, s)| (s.pair.0, s.pair.1, self.count(slot) / self.unit))
            .collect();
        edges.sort_by(|x, y| y.2.total_cmp(&x.2).then((x.0, x.1).cmp(&(y.0, y.1))));
        edges
    }

    /// The overestimate bound of every tracked pair, like [`Self::edges`] but `(a, b, error)`.
    pub fn errors(&self) -> Vec<(ActorId, ActorId, f64)> {
        self.slots
            .iter()
            .map(|s| (s.pair.0, s.pair.1, s.error / self.unit))
            .collect()
    }

    fn count(&self, slot: usize) -> f64 {
        self.heap[self.position[slot] as usize].count
    }

    fn place(&mut self, at: usize, entry: Entry) {
        self.heap[at] = entry;
        self.position[entry.slot as usize] = at as u32;
    }

    /// Moves the entry at `at` up while it is smaller than its parent (a hole moves instead of
    /// swapping, so each level costs one write).
    fn sift_up(&mut self, mut at: usize) {
        let entry = self.heap[at];
        while at > 0 {
            let parent = (at - 1) / ARITY;
            if self.heap[parent].count <= entry.count {
                break;
            }
            self.place(at, self.heap[parent]);
            at = parent;
        }
        self.place(at, entry);
    }

    /// Moves the entry at `at` down while a child is smaller.
    fn sift_down(&mut self, mut at: usize) {
        let entry = self.heap[at];
        let len = self.heap.len();
        loop {
            let first = at * ARITY + 1;
            if first >= len {
                break;
            }
            let last = (first + ARITY).min(len);
            let mut smallest = first;
            for child in first + 1..last {
                if self.heap[child].count < self.heap[smallest].count {
                    smallest = child;
                }
            }
            if self.heap[smallest].count >= entry.count {
                break;
            }
            self.place(at, self.heap[smallest]);
            at = smallest;
        }
        self.place(at, entry);
    }
}

/// Merges edges (from one or several trackers) into a petgraph graph with one node per actor,
/// nodes sorted by actor id so the result does not depend on the order of the input.
/// Weights are rounded to whole messages; pairs seen twice add up; pairs rounding to 0 drop.
pub fn graph(edges: impl IntoIterator<Item = (ActorId, ActorId, f64)>) -> UnGraph<ActorId, u64> {
    let mut merged: Vec<(ActorId, ActorId, f64)> = edges
        .into_iter()
        .map(|(a, b, w)| (a.min(b), a.max(b), w))
        .collect();
    // Weights in the order too: float sums then do not depend on the order of the input.
    merged.sort_by(|x, y| (x.0, x.1).cmp(&(y.0, y.1)).then(x.2.total_cmp(&y.2)));
    let mut actors: Vec<ActorId> = merged.iter().flat_map(|e| [e.0, e.1]).collect();
    actors.sort_unstable();
    actors.dedup();
    let mut graph = UnGraph::with_capacity(actors.len(), merged.len());
    for &actor in &actors {
        graph.add_node(actor);
    }
    let node = |actor: ActorId| NodeIndex::new(actors.binary_search(&actor).unwrap_or(0));
    let mut i = 0;
    while i < merged.len() {
        let (a, b) = (merged[i].0, merged[i].1);
        let mut weight = 0.0;
        while i < merged.len() && (merged[i].0, merged[i].1) == (a, b) {
            weight += merged[i].2;
            i += 1;
        }
        let messages = weight.round() as u64;
        if messages > 0 && a != b {
            graph.add_edge(node(a), node(b), messages);
        }
    }
    graph
}

#[cfg(test)]
mod tests;
