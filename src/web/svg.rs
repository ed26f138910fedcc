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
            point(&mut s, sc.x(b.0), sc.y(b.2));
        }
        for b in band.iter().rev() {
            point(&mut s, sc.x(b.0), sc.y(b.1));
        }
        s.push_str(r#""/>"#);
    }
    for l in lines {
        if l.points.is_empty() {
            continue;
        }
        let _ = write!(s, r#"<polyline class="{}" points=""#, l.class);
        for p in l.points {
            point(&mut s, sc.x(p.0), sc.y(p.1));
        }
        s.push_str(r#""/>"#);
    }
    s.push_str("</svg>");
    s
}

/// Appends `x,y ` with one decimal each: a chart over twenty years writes 10,000+ of them, and
/// `format!("{:.1}")` was a sixth of the page's time. The same text, but for a value whose
/// tenfold rounds to a tie in floating point (the formatter rounds the exact binary value): it
/// may come out 0.1 apart there, invisible in a chart.
fn point(s: &mut String, x: f64, y: f64) {
    tenths(s, x);
    s.push(',');
    tenths(s, y);
    s.push(' ');
}

fn tenths(s: &mut String, v: f64) {
    let t = (v * 10.0).round_ties_even();
    if !t.is_finite() || t.abs() >= 1e15 {
        let _ = write!(s, "{v:.1}");
        return;
    }
    let t = t as i64;
    if t < 0 {
        s.push('-');
    }
    let t = t.unsigned_abs();
    let mut digits = [0u8; 20];
    let mut n = 0;
    let mut whole = t / 10;
    loop {
        digits[n] = b'0' + (whole % 10) as u8;
        n += 1;
        whole /= 10;
        if whole == 0 {
            break;
        }
    }
    s.extend(digits[..n].iter().rev().map(|&d| char::from(d)));
    s.push('.');
    s.push(char::from(b'0' + (t % 10) as u8));
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

#[cfg(test)]
mod tenths_tests {
    use super::tenths;

    #[test]
    fn one_decimal_as_the_formatter_writes_it() {
        for v in [0.0, 1.0, 12.34, 999.96, 1000.0, 0.04, 3.26, 42.0, 123456.78, -1.25, -0.3, 7.049] {
            let mut s = String::new();
            tenths(&mut s, v);
            assert_eq!(s, format!("{v:.1}"), "{v}");
        }
        // Coordinates across a 1000-unit-wide chart: the formatter's text, except at a value
        // within a hair of a tie, where either neighbour is as close.
        for i in 0..100_000 {
            let v = f64::from(i) * 0.013_7;
            let mut s = String::new();
            tenths(&mut s, v);
            if ((v * 10.0).fract() - 0.5).abs() < 1e-9 {
                let got: f64 = s.parse().unwrap();
                assert!((got - v).abs() <= 0.050_000_001, "{v}: {s}");
            } else {
                assert_eq!(s, format!("{v:.1}"), "{v}");
            }
        }
    }
}
