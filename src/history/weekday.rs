//! "Usually cheapest on <weekday>": the day of the week whose price is lowest at a station (or
//! a driver's stations), over the last eight weeks.
//!
//! How: the 56 days ending on the last day are cut into 8 runs of 7 days. In each run, each
//! day's close (the price in effect at the end of the day, Paris time) is compared to the mean of
//! the run's 7 closes; the weekday whose difference is lowest on average (over the 8 runs and
//! the stations) wins. A station counts only with prices on all 56 days (8 weeks of data); a
//! difference of less than half a thousandth of a euro says no day is cheaper.

use crate::db::Db;
use crate::domain::series::{Day, day_start, weekday};
use crate::domain::{Fuel, Lang, StationId};
use crate::history::series::closes;

/// How many weeks of data the line needs.
pub const WEEKS: Day = 8;

/// The cheapest weekday and by how much.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cheapest {
    /// 1 = Monday … 7 = Sunday.
    pub weekday: u8,
    /// Mean difference with the week's mean, thousandths of a euro (negative).
    pub delta: f64,
}

/// The cheapest weekday from each station's daily closes (in day order) over the
/// [`WEEKS`] weeks ending on `last`. `None` without a station of 8 weeks, or when no day is
/// cheaper.
pub fn cheapest(stations: &[Vec<(Day, i32)>], last: Day) -> Option<Cheapest> {
    let first = last - WEEKS * 7 + 1;
    let mut sum = [0f64; 8];
    let mut count = [0u32; 8];
    for closes in stations {
        let window: Vec<i32> = closes.iter().filter(|(d, _)| (first..=last).contains(d)).map(|c| c.1).collect();
        if window.len() != (WEEKS * 7) as usize {
            continue;
        }
        for (w, run) in window.chunks(7).enumerate() {
            let mean = run.iter().map(|&p| f64::from(p)).sum::<f64>() / 7.0;
            for (i, &p) in run.iter().enumerate() {
                let wd = usize::from(weekday(first + (w * 7 + i) as Day));
                sum[wd] += f64::from(p) - mean;
                count[wd] += 1;
            }
        }
    }
    let best = (1..=7u8)
        .filter(|&d| count[usize::from(d)] > 0)
        .map(|d| (d, sum[usize::from(d)] / f64::from(count[usize::from(d)])))
        .min_by(|a, b| a.1.total_cmp(&b.1))?;
    (best.1 <= -0.5).then_some(Cheapest { weekday: best.0, delta: best.1 })
}

/// The closes over the [`WEEKS`] weeks ending on `last`, from a station's change points.
pub fn window_closes(points: &[(i64, i32)], last: Day) -> Vec<(Day, i32)> {
    closes(points, last - WEEKS * 7 + 1, last)
}

/// The closes of one station's fuel over the [`WEEKS`] weeks ending on `last`.
async fn station_closes(db: &Db, station: StationId, fuel: Fuel, last: Day) -> Result<Vec<(Day, i32)>, sqlx::Error> {
    let points = crate::db::series::station_points(db, station, fuel.id(), day_start(last + 1)).await?;
    Ok(window_closes(&points, last))
}

/// The cheapest weekday of `fuel` over `stations`, up to the day `last`.
pub async fn for_stations(
    db: &Db,
    stations: &[StationId],
    fuel: Fuel,
    last: Day,
) -> Result<Option<Cheapest>, sqlx::Error> {
    let mut all = Vec::with_capacity(stations.len());
    for &s in stations {
        all.push(station_closes(db, s, fuel, last).await?);
    }
    Ok(cheapest(&all, last))
}

/// The sentence of a result, in `lang` ("usually cheapest on Monday here (−0.8 c)").
pub fn sentence(lang: Lang, c: &Cheapest, mine: bool) -> String {
    let h = lang.texts().history;
    let cents = lang.cents(c.delta);
    if mine {
        (h.weekday_mine)(lang.day_name(c.weekday), &cents)
    } else {
        (h.weekday_here)(lang.day_name(c.weekday), &cents)
    }
}

/// `/me`: per fuel, the line about the user's stations (`stations`) for each of `fuels` that has
/// one; `last` is the last day of data.
pub async fn me_lines(db: &Db, lang: Lang, stations: &[StationId], fuels: &[Fuel], last: Day) -> Vec<(Fuel, String)> {
    let mut out = Vec::new();
    for &fuel in fuels {
        match for_stations(db, stations, fuel, last).await {
            Ok(Some(c)) => out.push((fuel, sentence(lang, &c, true))),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "weekday line: not computed"),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::series::day_of_date;
    use chrono::NaiveDate;

    /// 8 weeks ending on Sunday 29 June 2025 where Tuesdays cost `cheap` less.
    fn weeks(last: Day, days: Day, cheap: i32) -> Vec<(Day, i32)> {
        (last - days + 1..=last).map(|d| (d, if weekday(d) == 2 { 1800 - cheap } else { 1800 })).collect()
    }

    #[test]
    fn the_cheapest_weekday_needs_eight_weeks() {
        let last = day_of_date(NaiveDate::from_ymd_opt(2025, 6, 29).unwrap());
        let c = cheapest(&[weeks(last, 56, 7)], last).unwrap();
        assert_eq!(c.weekday, 2);
        // 7 thousandths below on Tuesday: the week's mean is 1 below 1800, so −6.
        assert!((c.delta + 6.0).abs() < 1e-9, "{c:?}");
        // 55 days are not 8 weeks.
        assert_eq!(cheapest(&[weeks(last, 55, 7)], last), None);
        // A flat price says nothing.
        assert_eq!(cheapest(&[weeks(last, 56, 0)], last), None);
        // A station without 8 weeks does not count, another one does.
        let c2 = cheapest(&[weeks(last, 20, 50), weeks(last, 60, 7)], last).unwrap();
        assert_eq!(c2.weekday, 2);
        assert!((c2.delta + 6.0).abs() < 1e-9);
    }
}
