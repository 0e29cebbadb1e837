//! A small SVG line chart (no dependency): figures of runs against the number of nodes, on a
//! logarithmic x axis, one panel per unit.

use std::fmt::Write;

/// One line of a panel: its name, colour and (nodes, value) points.
pub struct Series {
    /// Shown in the legend.
    pub name: String,
    /// An SVG colour.
    pub colour: &'static str,
    /// (nodes, value).
    pub points: Vec<(f64, f64)>,
}

/// A panel: a title, the unit of its y axis, its lines.
pub struct Panel {
    /// Above the panel.
    pub title: String,
    /// The y axis's unit.
    pub unit: String,
    /// The lines.
    pub series: Vec<Series>,
}

const W: f64 = 420.0;
const H: f64 = 260.0;
const LEFT: f64 = 60.0;
const TOP: f64 = 40.0;
const PLOT_W: f64 = W - LEFT - 20.0;
const PLOT_H: f64 = H - TOP - 50.0;

/// The panels side by side, as an SVG document.
pub fn svg(panels: &[Panel]) -> String {
    let mut s = String::new();
    let width = W * panels.len() as f64;
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{H}" font-family="sans-serif" font-size="11">"#
    );
    let _ = write!(s, r#"<rect width="{width}" height="{H}" fill="white"/>"#);
    for (k, panel) in panels.iter().enumerate() {
        draw(&mut s, panel, k as f64 * W);
    }
    s.push_str("</svg>\n");
    s
}

fn draw(s: &mut String, p: &Panel, x0: f64) {
    let all: Vec<(f64, f64)> = p.series.iter().flat_map(|l| l.points.clone()).collect();
    let (xmin, xmax) = all.iter().fold((f64::MAX, f64::MIN), |(a, b), &(x, _)| {
        (a.min(x.log10()), b.max(x.log10()))
    });
    let ymax = all.iter().fold(0.0f64, |m, &(_, y)| m.max(y)) * 1.1;
    let (xmin, xmax) = if xmax > xmin {
        (xmin, xmax)
    } else {
        (xmin - 1.0, xmin + 1.0)
    };
    let ymax = if ymax > 0.0 { ymax } else { 1.0 };
    let px = |x: f64| x0 + LEFT + (x.log10() - xmin) / (xmax - xmin) * PLOT_W;
    let py = |y: f64| TOP + PLOT_H - y / ymax * PLOT_H;
    let _ = write!(
        s,
        r#"<text x="{}" y="20" font-size="13">{}</text>"#,
        x0 + LEFT,
        escape(&p.title)
    );
    let _ = write!(
        s,
        r#"<line x1="{a}" y1="{b}" x2="{c}" y2="{b}" stroke="black"/><line x1="{a}" y1="{t}" x2="{a}" y2="{b}" stroke="black"/>"#,
        a = x0 + LEFT,
        b = TOP + PLOT_H,
        c = x0 + LEFT + PLOT_W,
        t = TOP
    );
    for i in 0..=4 {
        let y = ymax * f64::from(i) / 4.0;
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
            x0 + LEFT - 4.0,
            py(y) + 4.0,
            short(y)
        );
    }
    let mut xs: Vec<f64> = all.iter().map(|&(x, _)| x).collect();
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    for x in xs {
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            px(x),
            TOP + PLOT_H + 15.0,
            short(x)
        );
    }
    let _ = write!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">nodes (log)</text><text x="{}" y="{}" transform="rotate(-90 {} {})" text-anchor="middle">{}</text>"#,
        x0 + LEFT + PLOT_W / 2.0,
        TOP + PLOT_H + 30.0,
        x0 + 14.0,
        TOP + PLOT_H / 2.0,
        x0 + 14.0,
        TOP + PLOT_H / 2.0,
        escape(&p.unit)
    );
    for (k, line) in p.series.iter().enumerate() {
        let pts: Vec<String> = line
            .points
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
            .collect();
        let _ = write!(
            s,
            r#"<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>"#,
            line.colour,
            pts.join(" ")
        );
        for &(x, y) in &line.points {
            let _ = write!(
                s,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{}"/>"#,
                px(x),
                py(y),
                line.colour
            );
        }
        let ly = TOP + 12.0 * k as f64;
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" fill="{}">{}</text>"#,
            x0 + LEFT + 8.0,
            ly + 4.0,
            line.colour,
            escape(&line.name)
        );
    }
}

/// 1234 as "1.2k", 12 as "12", 0.5 as "0.5".
fn short(v: f64) -> String {
    if v >= 1000.0 {
        format!("{:.1}k", v / 1000.0)
    } else if v >= 10.0 || v == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn escape(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_is_well_formed_svg_with_every_point() {
        let doc = svg(&[Panel {
            title: "latency <ms>".into(),
            unit: "ms".into(),
            series: vec![Series {
                name: "p50".into(),
                colour: "#1f77b4",
                points: vec![(100.0, 30.0), (1000.0, 44.0), (10000.0, 58.0)],
            }],
        }]);
        assert!(doc.starts_with("<svg") && doc.trim_end().ends_with("</svg>"));
        assert_eq!(doc.matches("<circle").count(), 3);
        assert!(doc.contains("latency &lt;ms&gt;"));
        assert!(doc.contains(">10.0k<"));
    }
}
