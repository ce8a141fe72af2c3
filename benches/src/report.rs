//! Result rows and the printed table.
//!
//! A row is one (scenario, metric, load): our figure, its target, and each peer's figure from
//! the same run. Invariants: a figure is either measured in this run or "unavailable: why", never
//! remembered or made up; the ratio is oriented so that > 1 means Quark is better, whatever the
//! metric's direction.
use crate::repeat::{RowSpread, Spread};
use std::collections::BTreeSet;
use std::fmt::Write as _;

/// Which direction is better for a metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    /// Throughputs, reductions.
    Higher,
    /// Latencies, sizes, counts of moves.
    Lower,
}

impl Better {
    /// The JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Better::Higher => "higher",
            Better::Lower => "lower",
        }
    }
}

/// One system's figure for one row.
#[derive(Clone, Debug, PartialEq)]
pub enum Figure {
    /// Measured in this run.
    Value(f64),
    /// Could not be measured in this run, and why.
    Unavailable(String),
}

impl Figure {
    /// The value, if measured.
    pub fn value(&self) -> Option<f64> {
        match self {
            Figure::Value(v) => Some(*v),
            Figure::Unavailable(_) => None,
        }
    }
}

/// One row of the report.
#[derive(Clone, Debug)]
pub struct Row {
    /// The scenario name, e.g. `log.append`.
    pub scenario: String,
    /// The metric name, e.g. `p99_us`.
    pub metric: &'static str,
    /// Quark's figure.
    pub ours: Figure,
    /// The target (MISSION.md's goal, or the floor), if one is stated.
    pub target: Option<f64>,
    /// Which direction is better.
    pub better: Better,
    /// Whether the figure is for acknowledged-durable work.
    pub durable: bool,
    /// The stated load, e.g. "64 appenders, 128 B records".
    pub load: String,
    /// Each peer's figure, in the order the scenario ran them.
    pub peers: Vec<(String, Figure)>,
}

impl Row {
    /// Our ratio to a peer's figure, oriented so that > 1 means we are better.
    pub fn ratio(&self, peer: &Figure) -> Option<f64> {
        let (ours, theirs) = (self.ours.value()?, peer.value()?);
        let r = match self.better {
            Better::Higher => ours / theirs,
            Better::Lower => theirs / ours,
        };
        r.is_finite().then_some(r)
    }

    /// Whether our figure meets the target, if both exist.
    pub fn meets_target(&self) -> Option<bool> {
        let (ours, target) = (self.ours.value()?, self.target?);
        Some(match self.better {
            Better::Higher => ours >= target,
            Better::Lower => ours <= target,
        })
    }
}

/// Formats a figure compactly: 1234567 → "1.23M", 0.5 → "0.50".
pub fn human(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{:.2}G", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.1}k", v / 1e3)
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

const REASON_COLS: usize = 44;

/// " [min–max]" when the repeats differ, "" for one repeat or none.
fn spread_text(spread: Option<Spread>) -> String {
    match spread {
        Some(s) if s.min != s.max => format!(" [{}–{}]", human(s.min), human(s.max)),
        _ => String::new(),
    }
}

fn cell(row: &Row, fig: &Figure, spread: Option<Spread>) -> String {
    match fig {
        Figure::Value(v) if std::ptr::eq(fig, &row.ours) => {
            format!("{}{}", human(*v), spread_text(spread))
        }
        Figure::Value(v) => match row.ratio(fig) {
            Some(r) => format!("{}{} (×{r:.2})", human(*v), spread_text(spread)),
            None => format!("{}{}", human(*v), spread_text(spread)),
        },
        Figure::Unavailable(why) => {
            let mut s = format!("unavailable: {why}");
            if s.chars().count() > REASON_COLS {
                s = s.chars().take(REASON_COLS - 1).collect::<String>() + "…";
            }
            s
        }
    }
}

/// Renders the table: one column per peer that appears in any row; a figure of repeated runs
/// (the median) is followed by its min–max spread in square brackets, from `spreads` (aligned
/// with `rows`; missing entries mean one run).
pub fn table(rows: &[Row], spreads: &[RowSpread]) -> String {
    let peers: Vec<String> = {
        let mut seen = BTreeSet::new();
        let mut order = Vec::new();
        for (name, _) in rows.iter().flat_map(|r| r.peers.iter()) {
            if seen.insert(name.clone()) {
                order.push(name.clone());
            }
        }
        order
    };
    let mut header = vec!["scenario", "metric", "load", "quark", "target", "meets"]
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    header.extend(peers.iter().map(|p| format!("{p} (ratio)")));
    let mut lines = vec![header];
    let none = RowSpread::default();
    for (i, row) in rows.iter().enumerate() {
        let spread = spreads.get(i).unwrap_or(&none);
        let ours = cell(row, &row.ours, spread.ours);
        let arrow = match row.better {
            Better::Higher => "↑",
            Better::Lower => "↓",
        };
        let mut line = vec![
            row.scenario.clone(),
            format!("{} {arrow}", row.metric),
            row.load.clone(),
            ours,
            row.target.map_or_else(|| "—".to_owned(), human),
            match row.meets_target() {
                Some(true) => "yes".to_owned(),
                Some(false) => "NO".to_owned(),
                None => "—".to_owned(),
            },
        ];
        for p in &peers {
            let fig = row.peers.iter().find(|(n, _)| n == p).map(|(_, f)| f);
            let s = spread.peer(p);
            line.push(fig.map_or_else(|| "—".to_owned(), |f| cell(row, f, s)));
        }
        lines.push(line);
    }
    render(&lines)
}

fn render(lines: &[Vec<String>]) -> String {
    let cols = lines.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            lines
                .iter()
                .map(|l| l[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        let mut text = String::new();
        for (c, value) in line.iter().enumerate() {
            let pad = widths[c] - value.chars().count();
            let _ = write!(text, "{value}{}  ", " ".repeat(pad));
        }
        out.push_str(text.trim_end());
        out.push('\n');
        if i == 0 {
            let total: usize = widths.iter().sum::<usize>() + 2 * cols.saturating_sub(1);
            out.push_str(&"-".repeat(total));
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{Better, Figure, Row, table};

    fn row(better: Better, ours: f64, peer: f64) -> Row {
        Row {
            scenario: "s".into(),
            metric: "m",
            ours: Figure::Value(ours),
            target: Some(10.0),
            better,
            durable: true,
            load: "l".into(),
            peers: vec![
                ("p".into(), Figure::Value(peer)),
                ("q".into(), Figure::Unavailable("down".into())),
            ],
        }
    }

    #[test]
    fn ratio_is_oriented_so_above_one_means_we_win() {
        let higher = row(Better::Higher, 20.0, 10.0);
        assert_eq!(higher.ratio(&higher.peers[0].1), Some(2.0));
        assert_eq!(higher.meets_target(), Some(true));
        let lower = row(Better::Lower, 20.0, 10.0);
        assert_eq!(lower.ratio(&lower.peers[0].1), Some(0.5));
        assert_eq!(lower.meets_target(), Some(false));
        assert_eq!(lower.ratio(&lower.peers[1].1), None);
    }

    #[test]
    fn table_names_every_peer_and_unavailability() {
        let t = table(&[row(Better::Higher, 20.0, 10.0)], &[]);
        assert!(t.contains("p (ratio)"), "{t}");
        assert!(t.contains("(×2.00)"), "{t}");
        assert!(t.contains("unavailable: down"), "{t}");
    }
}
