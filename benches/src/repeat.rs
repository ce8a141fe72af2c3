//! Repeated runs folded into one: each figure becomes the median of its repeats, with the
//! min–max spread beside it.
//!
//! The runner runs a scenario's whole system list once per repeat (Quark, then each peer, then
//! Quark again …), so drift on the machine hits every system alike; this module only folds the
//! repeats' outcomes. Invariants: a figure is the median of values measured in this run, never
//! made up; a system that was unavailable in any repeat stays unavailable (with the repeat
//! named), so a median never hides a failure; repeats of one scenario have the same rows in the
//! same order, else folding refuses and keeps the first repeat's rows with a note saying why.
use crate::report::{Figure, Row};
use crate::scenario::Outcome;
use serde::Serialize;

/// The smallest and largest of a figure's repeats.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Spread {
    /// The smallest value.
    pub min: f64,
    /// The largest value.
    pub max: f64,
}

/// The spreads of one row: Quark's and each peer's (by name), where measured.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RowSpread {
    /// Quark's spread, if its figure was measured.
    pub ours: Option<Spread>,
    /// Each measured peer's spread, in the row's peer order.
    pub peers: Vec<(String, Spread)>,
}

impl RowSpread {
    /// The spread of `peer`, if it has one.
    pub fn peer(&self, peer: &str) -> Option<Spread> {
        self.peers.iter().find(|(n, _)| n == peer).map(|(_, s)| *s)
    }
}

/// The median of `values` (the mean of the two middle ones for an even count), and the spread;
/// `None` when there are no values.
///
/// ```
/// use quark_benches::repeat::{Spread, median};
/// let (m, s) = median(&[3.0, 1.0, 2.0]).unwrap();
/// assert_eq!((m, s), (2.0, Spread { min: 1.0, max: 3.0 }));
/// ```
pub fn median(values: &[f64]) -> Option<(f64, Spread)> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let (first, last) = (*sorted.first()?, *sorted.last()?);
    let mid = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    };
    Some((
        mid,
        Spread {
            min: first,
            max: last,
        },
    ))
}

/// Folds one system's figures across repeats: the median and spread, or the first repeat's
/// reason when any repeat was unavailable.
fn fold_figure(figures: &[&Figure]) -> (Figure, Option<Spread>) {
    let count = figures.len();
    for (i, f) in figures.iter().enumerate() {
        if let Figure::Unavailable(why) = f {
            let why = if count > 1 {
                format!("{why} (repeat {} of {count})", i + 1)
            } else {
                why.clone()
            };
            return (Figure::Unavailable(why), None);
        }
    }
    let values: Vec<f64> = figures.iter().filter_map(|f| f.value()).collect();
    match median(&values) {
        Some((m, s)) => (Figure::Value(m), Some(s)),
        None => (
            Figure::Unavailable("no repeat measured it".to_owned()),
            None,
        ),
    }
}

/// Whether every repeat has the same rows (scenario, metric, load, peers) in the same order.
fn aligned(outcomes: &[Outcome]) -> bool {
    let key = |r: &Row| {
        let peers: Vec<&str> = r.peers.iter().map(|(n, _)| n.as_str()).collect();
        (
            r.scenario.clone(),
            r.metric,
            r.load.clone(),
            peers.join(","),
        )
    };
    let Some(first) = outcomes.first() else {
        return true;
    };
    let keys: Vec<_> = first.rows.iter().map(key).collect();
    outcomes
        .iter()
        .all(|o| o.rows.iter().map(key).collect::<Vec<_>>() == keys)
}

/// The notes of all repeats: a note every repeat wrote once as is, the others prefixed with
/// the repeat that wrote them.
fn fold_notes(outcomes: &[Outcome]) -> Vec<String> {
    let count = outcomes.len();
    let mut out: Vec<String> = Vec::new();
    for (i, o) in outcomes.iter().enumerate() {
        for note in &o.notes {
            let everywhere = outcomes.iter().all(|p| p.notes.contains(note));
            let text = if everywhere || count == 1 {
                note.clone()
            } else {
                format!("[repeat {}/{count}] {note}", i + 1)
            };
            if !out.contains(&text) {
                out.push(text);
            }
        }
    }
    out
}

/// Folds the repeats of one scenario (in the order they ran) into one outcome whose figures are
/// medians, with each row's spread; the work of every repeat is kept, in order.
pub fn fold(outcomes: Vec<Outcome>) -> (Outcome, Vec<RowSpread>) {
    let mut notes = fold_notes(&outcomes);
    let work = outcomes.iter().flat_map(|o| o.work.clone()).collect();
    if !aligned(&outcomes) {
        notes.push(
            "the repeats produced different rows; the first repeat's figures are shown".to_owned(),
        );
    }
    let Some(first) = outcomes.first().filter(|_| aligned(&outcomes)) else {
        let rows = outcomes.first().map(|o| o.rows.clone()).unwrap_or_default();
        let spreads = vec![RowSpread::default(); rows.len()];
        return (Outcome { rows, work, notes }, spreads);
    };
    let mut rows = Vec::with_capacity(first.rows.len());
    let mut spreads = Vec::with_capacity(first.rows.len());
    for (i, row) in first.rows.iter().enumerate() {
        let ours: Vec<&Figure> = outcomes.iter().map(|o| &o.rows[i].ours).collect();
        let (ours, ours_spread) = fold_figure(&ours);
        let mut spread = RowSpread {
            ours: ours_spread,
            peers: Vec::new(),
        };
        let mut peers = Vec::with_capacity(row.peers.len());
        for (p, (name, _)) in row.peers.iter().enumerate() {
            let figures: Vec<&Figure> = outcomes.iter().map(|o| &o.rows[i].peers[p].1).collect();
            let (figure, s) = fold_figure(&figures);
            if let Some(s) = s {
                spread.peers.push((name.clone(), s));
            }
            peers.push((name.clone(), figure));
        }
        rows.push(Row {
            ours,
            peers,
            ..row.clone()
        });
        spreads.push(spread);
    }
    (Outcome { rows, work, notes }, spreads)
}
