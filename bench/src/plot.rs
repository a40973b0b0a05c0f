//! SVG latency-percentile plots: latency against percentile on the usual HdrHistogram axis
//! (0%, 90%, 99%, 99.9%, ... evenly spaced), one line per report, written as plain SVG text.
//!
//! Why no plotting crate: the figure is a few polylines, ticks and labels; writing the SVG
//! directly costs about a hundred lines and no dependency (plotters with its svg backend
//! still brings font and colour crates).
//! Invariant: output is self-contained SVG 1.1 that browsers and `rsvg-convert` open.
//! Does not read histograms: it draws the `latency_curve_us` points of each report.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::report::RunReport;

const WIDTH: f64 = 860.0;
const HEIGHT: f64 = 500.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 220.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 60.0;
/// Rightmost decade: 99.999%.
const NINES_MAX: f64 = 5.0;
const COLOURS: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];

/// Number of nines of a quantile: 0.99 -> 2; capped at `NINES_MAX`.
fn nines(q: f64) -> f64 {
    if q >= 1.0 {
        NINES_MAX
    } else {
        (-(1.0 - q).log10()).clamp(0.0, NINES_MAX)
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Draws the reports' total latency curves.
pub fn svg(reports: &[RunReport]) -> String {
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let y_max_us = reports
        .iter()
        .flat_map(|r| r.total.latency_curve_us.iter().map(|p| p.1))
        .fold(1.0f64, f64::max)
        * 1.05;
    let (unit, scale) = if y_max_us >= 10_000.0 {
        ("ms", 1e3)
    } else {
        ("µs", 1.0)
    };
    let x = |q: f64| LEFT + nines(q) / NINES_MAX * plot_w;
    let y = |us: f64| TOP + plot_h - us / y_max_us * plot_h;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        out,
        r#"<text x="{}" y="22" font-size="15" text-anchor="middle">Latency by percentile</text>"#,
        LEFT + plot_w / 2.0
    );
    for decade in 0..=NINES_MAX as u32 {
        let q = 1.0 - 10f64.powi(-(decade as i32));
        let label = match decade {
            0 => "0%".to_string(),
            d => format!("{:.*}%", (d as usize).saturating_sub(2), q * 100.0),
        };
        let xp = x(q);
        let _ = writeln!(
            out,
            r##"<line x1="{xp:.1}" y1="{TOP}" x2="{xp:.1}" y2="{:.1}" stroke="#ddd"/><text x="{xp:.1}" y="{:.1}" text-anchor="middle">{label}</text>"##,
            TOP + plot_h,
            TOP + plot_h + 18.0
        );
    }
    for i in 0..=5 {
        let us = y_max_us * f64::from(i) / 5.0;
        let yp = y(us);
        let _ = writeln!(
            out,
            r##"<line x1="{LEFT}" y1="{yp:.1}" x2="{:.1}" y2="{yp:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{:.1}</text>"##,
            LEFT + plot_w,
            LEFT - 6.0,
            yp + 4.0,
            us / scale
        );
    }
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">percentile</text><text x="18" y="{:.1}" transform="rotate(-90 18 {:.1})" text-anchor="middle">latency ({unit})</text>"#,
        LEFT + plot_w / 2.0,
        HEIGHT - 15.0,
        TOP + plot_h / 2.0,
        TOP + plot_h / 2.0
    );
    for (i, report) in reports.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let points: Vec<String> = report
            .total
            .latency_curve_us
            .iter()
            .map(|&(q, us)| format!("{:.1},{:.1}", x(q), y(us)))
            .collect();
        let _ = writeln!(
            out,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#,
            points.join(" ")
        );
        let c = &report.config;
        let mode = c
            .rate_per_s
            .map_or("closed".to_string(), |r| format!("open {r}/s"));
        let label = format!("{} {} {mode}", report.target.name, c.workload.name());
        let ly = TOP + 10.0 + 20.0 * i as f64;
        let lx = LEFT + plot_w + 12.0;
        let _ = writeln!(
            out,
            r#"<line x1="{lx:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{colour}" stroke-width="3"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            lx + 20.0,
            lx + 26.0,
            ly + 4.0,
            escape(&label)
        );
    }
    out.push_str("</svg>\n");
    out
}

/// Writes the SVG of `reports` to `path`.
pub fn write_svg(reports: &[RunReport], path: &Path) -> anyhow::Result<()> {
    std::fs::write(path, svg(reports)).with_context(|| format!("write {}", path.display()))
}

/// `shoal-bench plot`: reads JSON reports and writes one SVG.
pub fn plot_files(inputs: &[PathBuf], out: &Path) -> anyhow::Result<()> {
    let reports = inputs
        .iter()
        .map(|p| RunReport::read_json(p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    write_svg(&reports, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_axis_spaces_nines_evenly() {
        assert_eq!(nines(0.0), 0.0);
        assert!((nines(0.99) - 2.0).abs() < 1e-9);
        assert_eq!(nines(1.0), NINES_MAX);
    }
}
