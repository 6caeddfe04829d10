//! The scale chart: latency against row count on log–log axes, one line
//! per query and state, drawn as inline SVG. Lines without the indexes are
//! dashed and every line is labelled, so colour is never the only signal.
//! Also every query's median without and with the indexes on one log axis
//! ([`medians`]), drawn whether or not a sweep ran, and any other set of
//! labelled lines on log–log axes ([`lines`]), such as `load`'s throughput
//! and p99 against clients.

use serde::Serialize;

use crate::format::{ms, thousands};
use crate::results::SweepPoint;
use crate::schema::IndexState;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 360.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 20.0;
const BOTTOM: f64 = 50.0;
const PALETTE: [&str; 10] = [
    "#1b6ca8", "#c0392b", "#2e8b57", "#8e44ad", "#d35400", "#16a085", "#7f8c8d", "#b8860b",
    "#34495e", "#e84393",
];

#[derive(Debug, Serialize)]
pub struct Chart {
    pub width: f64,
    pub height: f64,
    pub lines: Vec<Line>,
    pub x_ticks: Vec<Tick>,
    pub y_ticks: Vec<Tick>,
    pub plot: (f64, f64, f64, f64),
}

#[derive(Debug, Serialize)]
pub struct Line {
    pub label: String,
    pub points: String,
    pub color: String,
    pub dash: String,
    pub markers: Vec<(f64, f64, String)>,
}

#[derive(Debug, Serialize)]
pub struct Tick {
    pub pos: f64,
    pub label: String,
}

/// The chart for a sweep, if one ran.
pub fn chart(points: &[SweepPoint]) -> Option<Chart> {
    let usable: Vec<&SweepPoint> = points
        .iter()
        .filter(|p| p.rows > 0 && p.median_ms > 0.0)
        .collect();
    if usable.is_empty() {
        return None;
    }
    let (x0, x1) = decades(usable.iter().map(|p| p.rows as f64));
    let (y0, y1) = decades(usable.iter().map(|p| p.median_ms));
    let (w, h) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    let px = |x: f64| LEFT + (x.log10() - x0) / (x1 - x0) * w;
    let py = |y: f64| TOP + h - (y.log10() - y0) / (y1 - y0) * h;
    let mut keys: Vec<(String, IndexState)> = Vec::new();
    for p in &usable {
        let k = (p.query.clone(), p.state.clone());
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    let queries: Vec<&String> = {
        let mut q: Vec<&String> = Vec::new();
        for (name, _) in &keys {
            if !q.contains(&name) {
                q.push(name);
            }
        }
        q
    };
    let lines = keys
        .iter()
        .map(|(q, s)| {
            let mut pts: Vec<&&SweepPoint> = usable
                .iter()
                .filter(|p| &p.query == q && &p.state == s)
                .collect();
            pts.sort_by_key(|p| p.rows);
            let color = PALETTE[queries.iter().position(|x| *x == q).unwrap_or(0) % PALETTE.len()];
            Line {
                label: format!("{q} ({})", s),
                points: pts
                    .iter()
                    .map(|p| format!("{:.1},{:.1}", px(p.rows as f64), py(p.median_ms)))
                    .collect::<Vec<_>>()
                    .join(" "),
                color: color.to_string(),
                dash: if *s == IndexState::Without {
                    "6 4".into()
                } else {
                    String::new()
                },
                markers: pts
                    .iter()
                    .map(|p| {
                        (
                            px(p.rows as f64),
                            py(p.median_ms),
                            format!(
                                "{q} {} at {} rows: {} ({})",
                                s,
                                thousands(p.rows),
                                ms(p.median_ms),
                                p.top_node
                            ),
                        )
                    })
                    .collect(),
            }
        })
        .collect();
    Some(Chart {
        width: WIDTH,
        height: HEIGHT,
        lines,
        x_ticks: (x0 as i32..=x1 as i32)
            .map(|e| Tick {
                pos: px(10f64.powi(e)),
                label: thousands(10u64.pow(e.max(0) as u32)),
            })
            .collect(),
        y_ticks: (y0 as i32..=y1 as i32)
            .map(|e| Tick {
                pos: py(10f64.powi(e)),
                label: ms(10f64.powi(e)),
            })
            .collect(),
        plot: (LEFT, TOP, w, h),
    })
}

/// Every query's median without and with the indexes on one log axis:
/// a row per query, a hollow circle without and a filled one with, joined
/// by a line. Drawn whether or not a sweep ran.
#[derive(Debug, Serialize)]
pub struct Medians {
    pub width: f64,
    pub height: f64,
    pub plot: (f64, f64, f64, f64),
    pub ticks: Vec<Tick>,
    pub rows: Vec<MedianRow>,
    pub without_label: String,
    pub with_label: String,
}

#[derive(Debug, Serialize)]
pub struct MedianRow {
    pub y: f64,
    pub label: String,
    pub x_without: f64,
    pub x_with: f64,
    pub title_without: String,
    pub title_with: String,
}

/// Room for query names left of the plot, and per row.
const LABELS: f64 = 170.0;
const ROW: f64 = 26.0;

/// The chart of `(query, median without, median with)` in ms, sorted as
/// given; `None` when there is nothing to draw.
pub fn medians(pairs: &[(String, f64, f64)], without: &str, with: &str) -> Option<Medians> {
    let usable: Vec<&(String, f64, f64)> =
        pairs.iter().filter(|p| p.1 > 0.0 && p.2 > 0.0).collect();
    if usable.is_empty() {
        return None;
    }
    let (x0, x1) = decades(usable.iter().flat_map(|p| [p.1, p.2]));
    let w = WIDTH - LABELS - RIGHT;
    let h = ROW * usable.len() as f64;
    let px = |x: f64| LABELS + (x.log10() - x0) / (x1 - x0) * w;
    Some(Medians {
        width: WIDTH,
        height: TOP + h + BOTTOM,
        plot: (LABELS, TOP, w, h),
        ticks: (x0 as i32..=x1 as i32)
            .map(|e| Tick {
                pos: px(10f64.powi(e)),
                label: ms(10f64.powi(e)),
            })
            .collect(),
        rows: usable
            .iter()
            .enumerate()
            .map(|(i, (q, a, b))| MedianRow {
                y: TOP + ROW * (i as f64 + 0.5),
                label: q.clone(),
                x_without: px(*a),
                x_with: px(*b),
                title_without: format!("{q} {without}: {}", ms(*a)),
                title_with: format!("{q} {with}: {}", ms(*b)),
            })
            .collect(),
        without_label: without.to_string(),
        with_label: with.to_string(),
    })
}

/// One labelled line for [`lines`]: lines of the same `group` share a
/// colour, and a `dashed` one is the state without the indexes.
#[derive(Debug, Clone)]
pub struct Series {
    pub label: String,
    pub group: usize,
    pub dashed: bool,
    /// `(x, y, tooltip)`, in any order; points with x or y at or below 0
    /// are left out (log axes).
    pub points: Vec<(f64, f64, String)>,
}

/// Lines on log–log axes, x ticks at every x a line has (labelled as
/// whole numbers), y ticks at decades labelled by `y_label`; `None` when
/// no point can be drawn.
pub fn lines(series: &[Series], y_label: impl Fn(f64) -> String) -> Option<Chart> {
    let usable = |s: &Series| {
        let mut p: Vec<(f64, f64, String)> = s
            .points
            .iter()
            .filter(|p| p.0 > 0.0 && p.1 > 0.0 && p.1.is_finite())
            .cloned()
            .collect();
        p.sort_by(|a, b| a.0.total_cmp(&b.0));
        p
    };
    let all: Vec<(f64, f64, String)> = series.iter().flat_map(usable).collect();
    if all.is_empty() {
        return None;
    }
    let (x0, x1) = span(all.iter().map(|p| p.0));
    let (y0, y1) = decades(all.iter().map(|p| p.1));
    let (w, h) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    let px = |x: f64| LEFT + (x.log10() - x0) / (x1 - x0) * w;
    let py = |y: f64| TOP + h - (y.log10() - y0) / (y1 - y0) * h;
    let mut xs: Vec<f64> = all.iter().map(|p| p.0).collect();
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    let lines = series
        .iter()
        .map(|s| {
            let pts = usable(s);
            Line {
                label: s.label.clone(),
                points: pts
                    .iter()
                    .map(|p| format!("{:.1},{:.1}", px(p.0), py(p.1)))
                    .collect::<Vec<_>>()
                    .join(" "),
                color: PALETTE[s.group % PALETTE.len()].to_string(),
                dash: if s.dashed {
                    "6 4".into()
                } else {
                    String::new()
                },
                markers: pts
                    .iter()
                    .map(|p| (px(p.0), py(p.1), p.2.clone()))
                    .collect(),
            }
        })
        .collect();
    Some(Chart {
        width: WIDTH,
        height: HEIGHT,
        lines,
        x_ticks: xs
            .iter()
            .map(|x| Tick {
                pos: px(*x),
                label: format!("{x:.0}"),
            })
            .collect(),
        y_ticks: (y0 as i32..=y1 as i32)
            .map(|e| Tick {
                pos: py(10f64.powi(e)),
                label: y_label(10f64.powi(e)),
            })
            .collect(),
        plot: (LEFT, TOP, w, h),
    })
}

/// The log10 range of the values, widened a little at each end (a unit
/// either side of a single value) so end points are not on the frame.
fn span(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::MAX, f64::MIN);
    for v in values {
        lo = lo.min(v.log10());
        hi = hi.max(v.log10());
    }
    let pad = ((hi - lo) * 0.05).max(0.15);
    (lo - pad, hi + pad)
}

/// The whole decades (as exponents) that cover the values.
fn decades(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::MAX, f64::MIN);
    for v in values {
        lo = lo.min(v.log10());
        hi = hi.max(v.log10());
    }
    let (lo, hi) = (lo.floor(), hi.ceil());
    (lo, if hi <= lo { lo + 1.0 } else { hi })
}
