//! Server-rendered charts (inline SVG): what a visitor without JavaScript sees, and what the
//! chart library replaces when it runs. Decorative for assistive technologies: the pages give
//! the same figures as text and tables.

use std::fmt::Write;

use crate::domain::series::Day;

/// One line of a chart: `(day, price)` in day order, drawn with the CSS class `class`.
pub struct Line<'a> {
    pub points: &'a [(Day, i32)],
    pub class: &'static str,
}

const W: f64 = 600.0;
const H: f64 = 220.0;
const PAD: f64 = 6.0;

struct Scale {
    x0: Day,
    x1: Day,
    y0: i32,
    y1: i32,
}

impl Scale {
    fn x(&self, d: Day) -> f64 {
        let span = f64::from((self.x1 - self.x0).max(1));
        PAD + f64::from(d - self.x0) / span * (W - 2.0 * PAD)
    }
    fn y(&self, p: i32) -> f64 {
        let span = f64::from((self.y1 - self.y0).max(1));
        H - PAD - f64::from(p - self.y0) / span * (H - 2.0 * PAD)
    }
}

/// A chart of `lines` over a min–max `band` `(day, min, max)`; empty when there is nothing.
pub fn chart(lines: &[Line<'_>], band: &[(Day, i32, i32)], test_id: &str) -> String {
    let days = lines.iter().flat_map(|l| l.points.iter().map(|p| p.0)).chain(band.iter().map(|b| b.0));
    let (Some(x0), Some(x1)) = (days.clone().min(), days.max()) else { return String::new() };
    let prices = lines.iter().flat_map(|l| l.points.iter().map(|p| p.1)).chain(band.iter().flat_map(|b| [b.1, b.2]));
    let (Some(lo), Some(hi)) = (prices.clone().min(), prices.max()) else { return String::new() };
    // Around the prices, not from zero: a few cents must show.
    let pad = ((hi - lo) / 10).max(10);
    let sc = Scale { x0, x1, y0: lo - pad, y1: hi + pad };
    let mut s = format!(
        r#"<svg class="chart-svg" viewBox="0 0 {W} {H}" preserveAspectRatio="none" aria-hidden="true" focusable="false" data-testid="{test_id}">"#
    );
    if !band.is_empty() {
        s.push_str(r#"<polygon class="band" points=""#);
        for b in band {
            let _ = write!(s, "{:.1},{:.1} ", sc.x(b.0), sc.y(b.2));
        }
        for b in band.iter().rev() {
            let _ = write!(s, "{:.1},{:.1} ", sc.x(b.0), sc.y(b.1));
        }
        s.push_str(r#""/>"#);
    }
    for l in lines {
        if l.points.is_empty() {
            continue;
        }
        let _ = write!(s, r#"<polyline class="{}" points=""#, l.class);
        for p in l.points {
            let _ = write!(s, "{:.1},{:.1} ", sc.x(p.0), sc.y(p.1));
        }
        s.push_str(r#""/>"#);
    }
    s.push_str("</svg>");
    s
}

/// A small line without axes (a table cell's trend).
pub fn sparkline(points: &[(Day, i32)]) -> String {
    let (Some(x0), Some(x1)) = (points.first().map(|p| p.0), points.last().map(|p| p.0)) else {
        return String::new();
    };
    let lo = points.iter().map(|p| p.1).min().unwrap_or(0);
    let hi = points.iter().map(|p| p.1).max().unwrap_or(0);
    let sc = Scale { x0, x1, y0: lo - 2, y1: hi + 2 };
    let mut s = format!(
        r#"<svg class="spark" viewBox="0 0 {W} {H}" preserveAspectRatio="none" aria-hidden="true" focusable="false"><polyline points=""#
    );
    for p in points {
        let _ = write!(s, "{:.0},{:.0} ", sc.x(p.0), sc.y(p.1));
    }
    s.push_str(r#""/></svg>"#);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_scale_into_the_box() {
        let a = [(10, 1800), (20, 1900)];
        let svg = chart(&[Line { points: &a, class: "line" }], &[(10, 1700, 1950), (20, 1750, 2000)], "c");
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains(r#"<polyline class="line" points="6.0,"#), "{svg}");
        assert!(svg.contains("<polygon class=\"band\""));
        assert_eq!(chart(&[], &[], "c"), "");
        assert!(sparkline(&a).contains("polyline"));
        assert_eq!(sparkline(&[]), "");
    }
}
