//! The SVG report: one panel per scenario; in each, one group of bars per metric (Quark, the
//! target, each peer), drawn relative to Quark's figure on a log scale and labelled with the raw
//! figures, so a reader sees the picture at a glance.
//!
//! A figure of repeated runs (the median) carries a whisker from its smallest to its largest
//! repeat. Invariant: only figures from the run's rows are drawn; an unavailable figure draws
//! no bar.
use crate::error::Error;
use crate::repeat::{RowSpread, Spread};
use crate::report::{Better, Row, human};
use plotters::prelude::*;
use std::path::Path;

const PANEL_W: u32 = 1100;
const PANEL_H: u32 = 340;

/// A bar: series name, raw value, spread of the repeats.
type Bar = (String, f64, Option<Spread>);

fn color(series: &str, index: usize) -> RGBColor {
    match series {
        "quark" => RGBColor(31, 119, 180),
        "target" => RGBColor(160, 160, 160),
        _ => {
            const PALETTE: [RGBColor; 5] = [
                RGBColor(214, 39, 40),
                RGBColor(44, 160, 44),
                RGBColor(255, 127, 14),
                RGBColor(148, 103, 189),
                RGBColor(140, 86, 75),
            ];
            PALETTE[index % PALETTE.len()]
        }
    }
}

fn bars(row: &Row, spread: &RowSpread) -> Vec<Bar> {
    let mut out = Vec::new();
    if let Some(v) = row.ours.value() {
        out.push(("quark".to_owned(), v, spread.ours));
    }
    if let Some(t) = row.target {
        out.push(("target".to_owned(), t, None));
    }
    for (name, fig) in &row.peers {
        if let Some(v) = fig.value() {
            out.push((name.clone(), v, spread.peer(name)));
        }
    }
    out.retain(|(_, v, _)| v.is_finite() && *v > 0.0);
    out
}

/// The group's label: the metric with its direction and, when a panel shows one metric under
/// several loads, a short tag for the load: its first phrase when that differs across the
/// panel ("halo" from "halo: 1000 actors…", "64 appenders" from "64 appenders, 128 B…"), else
/// its last "; " part ("quark parked"), else "default".
fn label(row: &Row, loads: &[&str], many_loads: bool) -> (String, String) {
    let arrow = if row.better == Better::Higher {
        "↑"
    } else {
        "↓"
    };
    let first = |l: &str| {
        l.split([':', ',', ';'])
            .next()
            .unwrap_or("")
            .trim()
            .to_owned()
    };
    let tag = if !many_loads {
        String::new()
    } else if loads.iter().any(|l| first(l) != first(&row.load)) {
        format!("[{}]", first(&row.load))
    } else {
        format!(
            "[{}]",
            row.load.rsplit_once("; ").map_or("default", |(_, t)| t)
        )
    };
    (format!("{} {arrow}", row.metric), tag)
}

/// Draws `rows` into an SVG file at `path`, with their repeats' `spreads` (aligned with `rows`;
/// missing entries mean one run).
pub fn draw(path: &Path, rows: &[Row], spreads: &[RowSpread]) -> Result<(), Error> {
    let svg_err = |e: String| Error::Svg {
        path: path.to_owned(),
        reason: e,
    };
    let mut scenarios: Vec<&str> = Vec::new();
    for r in rows {
        if !scenarios.contains(&r.scenario.as_str()) {
            scenarios.push(&r.scenario);
        }
    }
    // One panel per line: scenarios with many groups (loads × metrics) need the width.
    let lines = scenarios.len().max(1);
    let size = (PANEL_W, PANEL_H * lines as u32);
    let root = SVGBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE).map_err(|e| svg_err(e.to_string()))?;
    let panels = root.split_evenly((lines, 1));
    let mut peers: Vec<String> = Vec::new();
    for r in rows {
        for (n, _) in &r.peers {
            if !peers.contains(n) {
                peers.push(n.clone());
            }
        }
    }
    let none = RowSpread::default();
    for (panel, scenario) in panels.iter().zip(&scenarios) {
        let mine: Vec<(&Row, &RowSpread)> = rows
            .iter()
            .enumerate()
            .filter(|(_, r)| r.scenario == *scenario)
            .map(|(i, r)| (r, spreads.get(i).unwrap_or(&none)))
            .collect();
        panel_draw(panel, scenario, &mine, &peers).map_err(svg_err)?;
    }
    root.present().map_err(|e| svg_err(e.to_string()))
}

/// A group of bars: its label (metric, load tag) and its bars.
type Group = ((String, String), Vec<Bar>);

fn groups_of(rows: &[(&Row, &RowSpread)]) -> Vec<Group> {
    let metrics: Vec<&str> = rows.iter().map(|(r, _)| r.metric).collect();
    let many_loads = (1..metrics.len()).any(|i| metrics[..i].contains(&metrics[i]));
    let loads: Vec<&str> = rows.iter().map(|(r, _)| r.load.as_str()).collect();
    rows.iter()
        .map(|(r, s)| (label(r, &loads, many_loads), bars(r, s)))
        .collect()
}

/// The bars of one series, their value labels and their spread whiskers.
type Shapes = (
    Vec<Rectangle<(f64, f64)>>,
    Vec<Text<'static, (f64, f64), String>>,
    Vec<PathElement<(f64, f64)>>,
);

/// The bars of series `name` across the groups, and their value labels.
fn series_shapes(name: &str, c: RGBColor, groups: &[Group], norm: &[f64], lo: f64) -> Shapes {
    let mut rects = Vec::new();
    let mut texts = Vec::new();
    let mut whiskers = Vec::new();
    for (gi, (_, b)) in groups.iter().enumerate() {
        let Some(bi) = b.iter().position(|(n, _, _)| n == name) else {
            continue;
        };
        let width = 0.8 / b.len() as f64;
        let x0 = gi as f64 + 0.1 + width * bi as f64;
        let y = b[bi].1 / norm[gi];
        rects.push(Rectangle::new(
            [(x0, lo), (x0 + width * 0.9, y)],
            c.filled(),
        ));
        let mut top = y;
        if let Some(s) = b[bi].2.filter(|s| s.min > 0.0 && s.max > s.min) {
            let x = x0 + width * 0.45;
            let (y0, y1) = (s.min / norm[gi], s.max / norm[gi]);
            whiskers.push(PathElement::new(
                vec![(x, y0), (x, y1)],
                BLACK.stroke_width(1),
            ));
            for yy in [y0, y1] {
                let cap = vec![(x - width * 0.15, yy), (x + width * 0.15, yy)];
                whiskers.push(PathElement::new(cap, BLACK.stroke_width(1)));
            }
            top = top.max(y1);
        }
        texts.push(Text::new(
            human(b[bi].1),
            (x0, top * 1.15),
            ("sans-serif", 11),
        ));
    }
    (rects, texts, whiskers)
}

fn panel_draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    scenario: &str,
    rows: &[(&Row, &RowSpread)],
    peers: &[String],
) -> Result<(), String> {
    let groups = groups_of(rows);
    // Each group is drawn relative to Quark's figure (or its first bar when Quark has none).
    let norm: Vec<f64> = groups
        .iter()
        .map(|(_, b)| b.first().map_or(1.0, |(_, v, _)| *v))
        .collect();
    let rel = groups
        .iter()
        .zip(&norm)
        .flat_map(|((_, b), n)| {
            b.iter().flat_map(move |(_, v, s)| {
                let (lo, hi) = s.map_or((*v, *v), |s| (s.min, s.max));
                [v / n, lo / n, hi / n]
            })
        })
        .filter(|v| v.is_finite() && *v > 0.0);
    let (lo, hi) = rel.fold((1.0f64, 1.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (lo, hi) = (lo / 3.0, hi * 30.0);
    let caption = format!("{scenario} (bars relative to quark, log scale)");
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(10)
        .y_label_area_size(48)
        .build_cartesian_2d(0f64..groups.len().max(1) as f64, (lo..hi).log_scale())
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .disable_x_axis()
        .y_desc("× quark")
        .draw()
        .map_err(|e| e.to_string())?;
    let series: Vec<String> = ["quark", "target"]
        .iter()
        .map(|s| (*s).to_owned())
        .chain(peers.iter().cloned())
        .collect();
    for (si, name) in series.iter().enumerate() {
        let c = color(name, si.saturating_sub(2));
        let (rects, texts, whiskers) = series_shapes(name, c, &groups, &norm, lo);
        if rects.is_empty() {
            continue;
        }
        chart
            .draw_series(rects)
            .map_err(|e| e.to_string())?
            .label(name.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], c.filled()));
        chart.draw_series(whiskers).map_err(|e| e.to_string())?;
        chart.draw_series(texts).map_err(|e| e.to_string())?;
    }
    for (gi, ((metric, tag), _)) in groups.iter().enumerate() {
        let x = gi as f64 + 0.1;
        let lines = [(metric.clone(), lo * 1.7, 10), (tag.clone(), lo * 1.2, 9)];
        let texts = lines
            .into_iter()
            .map(|(t, y, px)| Text::new(t, (x, y), ("sans-serif", px)));
        chart.draw_series(texts).map_err(|e| e.to_string())?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| e.to_string())
}
