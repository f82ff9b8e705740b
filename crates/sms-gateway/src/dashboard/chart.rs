//! Line charts drawn as inline SVG on the server: a time axis, a 0–100 % axis, one polyline per
//! series (a gap where a series has no value).

use maud::{Markup, html};

/// One line: a label and a value (0.0 to 1.0) per slot, `None` where there is nothing to show.
#[derive(Debug, Clone)]
pub(crate) struct Series {
    pub label: String,
    pub values: Vec<Option<f64>>,
    /// Drawn dashed (for a second kind of value, e.g. weights, on the same axis).
    pub dashed: bool,
    /// Which colour of the palette (series of one provider share one).
    pub colour: usize,
    /// Drawn as steps: each value held flat across its whole slot (for weights, which change at
    /// an instant and stay), rather than a line through the slots' middles.
    pub step: bool,
}

/// A moment marked on the chart by a thin vertical line whose title says what happened (e.g. a
/// weight change and its reason).
#[derive(Debug, Clone)]
pub(crate) struct Mark {
    /// Where, in slots from the chart's start (fractions allowed).
    pub at: f64,
    pub label: String,
}

const WIDTH: f64 = 900.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 44.0;
/// Room for the legend on the right.
const RIGHT: f64 = 230.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;
const COLOURS: [&str; 6] = ["#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#0e7490"];

/// A chart of `series` over `slots` slots; `labels` are x-axis ticks as (slot, text); `marks` are
/// moments drawn as vertical lines with their label as a tooltip (an SVG `title`).
pub(crate) fn lines(
    title: &str,
    slots: usize,
    labels: &[(usize, String)],
    series: &[Series],
    marks: &[Mark],
) -> Markup {
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    #[allow(clippy::cast_precision_loss)]
    let x = |slot: usize| LEFT + plot_w * (slot as f64 + 0.5) / slots.max(1) as f64;
    let y = |v: f64| TOP + plot_h * (1.0 - v.clamp(0.0, 1.0));
    #[allow(clippy::cast_precision_loss)]
    let edge = |at: f64| LEFT + plot_w * at.clamp(0.0, slots.max(1) as f64) / slots.max(1) as f64;
    html! {
        svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width=(WIDTH) height=(HEIGHT)
            viewBox={ "0 0 " (WIDTH) " " (HEIGHT) } {
            title { (title) }
            rect x=(LEFT) y=(TOP) width=(plot_w) height=(plot_h) fill="#fff" stroke="#d5dae1" {}
            @for pct in [0u32, 25, 50, 75, 100] {
                @let yy = y(f64::from(pct) / 100.0);
                line x1=(LEFT) x2=(LEFT + plot_w) y1=(yy) y2=(yy) stroke="#eef1f5" {}
                text x=(LEFT - 4.0) y=(yy + 4.0) font-size="10" text-anchor="end" { (pct) "%" }
            }
            @for (slot, text) in labels {
                text x=(x(*slot)) y=(HEIGHT - 10.0) font-size="10" text-anchor="middle" { (text) }
            }
            @for (i, s) in series.iter().enumerate() {
                @let colour = COLOURS[s.colour % COLOURS.len()];
                @for run in runs(&s.values) {
                    @if s.step {
                        polyline class="step" fill="none" stroke=(colour) stroke-width="2"
                            stroke-dasharray=[s.dashed.then_some("5 3")]
                            points=(step_points(&run, &edge, &y)) {
                            title { (s.label) }
                        }
                    } @else if run.len() == 1 {
                        circle cx=(x(run[0].0)) cy=(y(run[0].1)) r="2.5" fill=(colour) {
                            title { (s.label) }
                        }
                    } @else {
                        polyline fill="none" stroke=(colour) stroke-width="2"
                            stroke-dasharray=[s.dashed.then_some("5 3")]
                            points=(points(&run, &x, &y)) {
                            title { (s.label) }
                        }
                    }
                }
                @let ly = TOP + 10.0 + 14.0 * i as f64;
                @let lx = LEFT + plot_w + 10.0;
                line x1=(lx) x2=(lx + 16.0) y1=(ly - 4.0) y2=(ly - 4.0) stroke=(colour) stroke-width="2"
                    stroke-dasharray=[s.dashed.then_some("5 3")] {}
                text x=(lx + 20.0) y=(ly) font-size="11" { (s.label) }
            }
            @for mark in marks {
                @let mx = edge(mark.at);
                line class="mark" x1=(mx) x2=(mx) y1=(TOP) y2=(TOP + plot_h) stroke="#57606a"
                    stroke-width="3" stroke-opacity="0.5" {
                    title { (mark.label) }
                }
            }
        }
    }
}

/// The unbroken runs of values: (slot, value) pairs.
fn runs(values: &[Option<f64>]) -> Vec<Vec<(usize, f64)>> {
    let mut out: Vec<Vec<(usize, f64)>> = Vec::new();
    let mut current = Vec::new();
    for (slot, v) in values.iter().enumerate() {
        match v {
            Some(v) if v.is_finite() => current.push((slot, *v)),
            _ => {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
            }
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

fn points(run: &[(usize, f64)], x: &impl Fn(usize) -> f64, y: &impl Fn(f64) -> f64) -> String {
    run.iter()
        .map(|(slot, v)| format!("{:.1},{:.1}", x(*slot), y(*v)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A step line: each value flat from its slot's left edge to its right edge, joined by vertical
/// segments at the edges.
fn step_points(run: &[(usize, f64)], edge: &impl Fn(f64) -> f64, y: &impl Fn(f64) -> f64) -> String {
    #[allow(clippy::cast_precision_loss)]
    run.iter()
        .map(|(slot, v)| {
            let (a, b) = (edge(*slot as f64), edge(*slot as f64 + 1.0));
            format!("{a:.1},{:.1} {b:.1},{:.1}", y(*v), y(*v))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_split_lines_and_single_points_are_dots() {
        let s = Series {
            label: "sandbox".into(),
            values: vec![Some(1.0), Some(0.5), None, Some(0.0), None],
            dashed: false,
            colour: 0,
            step: false,
        };
        assert_eq!(runs(&s.values).len(), 2);
        let svg = lines("Delivery", 5, &[(0, "00:00".into())], &[s], &[]).into_string();
        assert!(svg.starts_with("<svg"));
        assert_eq!(svg.matches("<polyline").count(), 1);
        assert_eq!(svg.matches("<circle").count(), 1);
        // 100 % at the top of the plot, 50 % halfway down.
        assert!(svg.contains("points=\"106.6,12.0 231.8,102.0\""), "{svg}");
        assert!(svg.contains(">sandbox</text>"));
    }

    #[test]
    fn steps_hold_each_value_across_its_slot_and_marks_carry_their_label() {
        let s = Series {
            label: "sandbox weight".into(),
            values: vec![Some(0.5), Some(1.0)],
            dashed: true,
            colour: 0,
            step: true,
        };
        let mark = Mark {
            at: 1.0,
            label: "demoted: 9 send errors".into(),
        };
        let svg = lines("Weights", 2, &[], &[s], &[mark]).into_string();
        // Flat at 50 % over the first half, a vertical jump at the edge, flat at 100 %.
        assert!(
            svg.contains("points=\"44.0,102.0 357.0,102.0 357.0,12.0 670.0,12.0\""),
            "{svg}"
        );
        assert!(svg.contains("x1=\"357\""), "{svg}");
        assert!(svg.contains("<title>demoted: 9 send errors</title>"), "{svg}");
    }
}
