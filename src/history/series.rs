//! The daily series as the pages and the API read them: aggregation by week or month, a
//! station's daily closes, and `carburoam series rebuild`. The stored daily averages and their
//! definition: [`crate::db::series`], [`crate::domain::series`].

use std::time::Duration;

use crate::db::Db;
use crate::db::series::{Refreshed, SeriesRow};
use crate::domain::Fuel;
use crate::domain::series::{Day, day_start, month_start, weekday};
use crate::etl::{self, ImportLease};

/// How points are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    Day,
    Week,
    Month,
}

impl Step {
    pub fn parse(s: &str) -> Option<Step> {
        match s {
            "day" => Some(Step::Day),
            "week" => Some(Step::Week),
            "month" => Some(Step::Month),
            _ => None,
        }
    }

    /// The step of a chart over `days` days: days up to a year, weeks up to five years, months
    /// beyond, so that a line holds at most ~370 points whatever the span. More is detail a
    /// phone's chart cannot show, and weight: twenty years of weekly points made a station page
    /// of 76 KB that took 0.5 ms of CPU per request to draw.
    pub fn for_span(days: Day) -> Step {
        match days {
            ..=366 => Step::Day,
            367..=1_827 => Step::Week,
            _ => Step::Month,
        }
    }

    /// The first day of the group holding `day` (weeks begin on Monday).
    pub fn bucket(self, day: Day) -> Day {
        match self {
            Step::Day => day,
            Step::Week => day - Day::from(weekday(day)) + 1,
            Step::Month => month_start(day),
        }
    }
}

/// One point of a series: a day, or the week or month beginning on `day`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Point {
    pub day: Day,
    /// Mean of the daily averages of the group (thousandths, rounded).
    pub average: i32,
    pub min: i32,
    pub max: i32,
    /// Means of the daily 10th and 90th percentiles of the group (the chart's band: most
    /// stations' prices lie between them, without the few outliers that set min and max).
    pub p10: i32,
    pub p90: i32,
    /// Mean number of stations per day of the group.
    pub stations: i32,
}

/// Groups daily rows (in day order) by `step`.
pub fn aggregate(rows: &[SeriesRow], step: Step) -> Vec<Point> {
    group(
        rows.iter().map(|r| Day1 {
            day: r.day,
            average: r.average,
            min: r.min_price,
            max: r.max_price,
            p10: r.p10,
            p90: r.p90,
            stations: r.stations,
        }),
        step,
    )
}

/// Groups daily closes of one station (in day order) by `step`: the average of the closes,
/// their min and max.
pub fn aggregate_closes(closes: &[(Day, i32)], step: Step) -> Vec<Point> {
    group(closes.iter().map(|&(day, p)| Day1 { day, average: p, min: p, max: p, p10: p, p90: p, stations: 1 }), step)
}

/// One day fed to [`group`].
struct Day1 {
    day: Day,
    average: i32,
    min: i32,
    max: i32,
    p10: i32,
    p90: i32,
    stations: i32,
}

fn group(rows: impl Iterator<Item = Day1>, step: Step) -> Vec<Point> {
    /// A group so far: its first day, sums of average, p10, p90 and stations, min, max, days.
    struct Acc {
        day: Day,
        sums: [i64; 4],
        min: i32,
        max: i32,
        n: i64,
    }
    let mut out: Vec<Point> = Vec::new();
    let mut acc: Option<Acc> = None;
    let flush = |acc: Option<Acc>, out: &mut Vec<Point>| {
        if let Some(a) = acc
            && a.n > 0
        {
            let mean = |v: i64| (v as f64 / a.n as f64).round() as i32;
            out.push(Point {
                day: a.day,
                average: mean(a.sums[0]),
                min: a.min,
                max: a.max,
                p10: mean(a.sums[1]),
                p90: mean(a.sums[2]),
                stations: mean(a.sums[3]),
            });
        }
    };
    for r in rows {
        let b = step.bucket(r.day);
        let add = [r.average, r.p10, r.p90, r.stations].map(i64::from);
        if let Some(a) = acc.as_mut().filter(|a| a.day == b) {
            for (s, v) in a.sums.iter_mut().zip(add) {
                *s += v;
            }
            a.min = a.min.min(r.min);
            a.max = a.max.max(r.max);
            a.n += 1;
        } else {
            flush(acc.take(), &mut out);
            acc = Some(Acc { day: b, sums: add, min: r.min, max: r.max, n: 1 });
        }
    }
    flush(acc, &mut out);
    out
}

/// A station's daily closes: the price in effect at the end of each day of `from..=to` (Paris
/// time), from its change points `(at, price)` in time order (those before `from` included: the
/// last of them is the price `from` opens with). Days before the first point have none.
pub fn closes(points: &[(i64, i32)], from: Day, to: Day) -> Vec<(Day, i32)> {
    let mut out = Vec::new();
    let mut i = 0;
    let mut current: Option<i32> = None;
    let mut day = from;
    while day <= to {
        let end = day_start(day + 1);
        while i < points.len() && points[i].0 < end {
            current = Some(points[i].1);
            i += 1;
        }
        if let Some(p) = current {
            out.push((day, p));
        }
        day += 1;
    }
    out
}

/// The national average of one fuel on the newest day of its series, and how it moved over the
/// seven days before (the home page's first screen).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NationalFigure {
    pub fuel: Fuel,
    pub day: Day,
    /// Thousandths of a euro.
    pub average: i32,
    /// `average` minus the average of seven days before, when that day has one.
    pub week_change: Option<i32>,
}

/// [`NationalFigure`] of `fuel` from its whole national line (`(day, average)` in day order),
/// as of `last` (the newest snapshot's day): `None` when the line has no day up to `last`.
pub fn national_figure(fuel: Fuel, line: &[(Day, i32)], last: Day) -> Option<NationalFigure> {
    let upto = line.partition_point(|p| p.0 <= last);
    let &(day, average) = line[..upto].last()?;
    let week_before = line[..upto].binary_search_by_key(&(day - 7), |p| p.0).ok().map(|i| line[i].1);
    Some(NationalFigure { fuel, day, average, week_change: week_before.map(|b| average - b) })
}

/// `carburoam series rebuild`: recomputes the whole series from the history, in one
/// transaction, under the import lease (no import runs meanwhile; waits up to `wait` for one).
pub async fn rebuild(db: &Db, wait: Duration) -> anyhow::Result<Refreshed> {
    let holder = etl::holder_id();
    let lease = ImportLease::acquire(db, &holder, wait).await?;
    let done = async {
        let mut tx = db.begin().await?;
        let done = crate::db::series::rebuild(&mut tx).await?;
        tx.commit().await?;
        Ok::<_, anyhow::Error>(done)
    }
    .await;
    lease.release().await;
    done
}

/// `carburoam series rebuild`: one summary line.
pub async fn rebuild_cli(db: &Db) -> anyhow::Result<std::process::ExitCode> {
    let started = std::time::Instant::now();
    let done = rebuild(db, Duration::from_secs(60)).await?;
    println!(
        "daily averages rebuilt: {} fuel-days from {} history points, {} rows, in {:.1} s",
        done.days,
        done.points,
        done.rows,
        started.elapsed().as_secs_f64()
    );
    Ok(std::process::ExitCode::SUCCESS)
}

/// At `serve`'s start: a database whose history predates the series gets it computed, in the
/// background (the import lease keeps imports out meanwhile; another instance holding it
/// means it is being done or an import will do it). Returns whether it computed them.
pub async fn rebuild_if_needed(db: Db) -> bool {
    match crate::db::series::needs_rebuild(&db).await {
        Ok(false) => false,
        Ok(true) => {
            tracing::info!("daily averages: computing them from the existing history");
            let started = std::time::Instant::now();
            match rebuild(&db, Duration::from_secs(600)).await {
                Ok(done) => {
                    tracing::info!(
                        days = done.days,
                        points = done.points,
                        rows = done.rows,
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "daily averages computed"
                    );
                    true
                }
                Err(e) => {
                    tracing::warn!(error = %e, "daily averages: not computed (the next import will)");
                    false
                }
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "daily averages: cannot check them");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn national_figure_of_the_newest_day_up_to_the_snapshot() {
        let line = [(100, 1700), (103, 1710), (107, 1690), (110, 1650)];
        // The newest day up to 108 is 107; seven days before it, 100.
        let f = national_figure(Fuel::Gazole, &line, 108).unwrap();
        assert_eq!((f.day, f.average, f.week_change), (107, 1690, Some(-10)));
        // The newest day is 110, whatever comes later; 103 is seven days before it.
        assert_eq!(national_figure(Fuel::E10, &line, 200).unwrap().week_change, Some(-60));
        // 103 has no day seven days before.
        let f = national_figure(Fuel::E10, &line, 104).unwrap();
        assert_eq!((f.day, f.week_change), (103, None));
        assert_eq!(national_figure(Fuel::E10, &line, 99), None);
        assert_eq!(national_figure(Fuel::E10, &[], 99), None);
    }

    #[test]
    fn chart_steps_follow_the_span() {
        assert_eq!(Step::for_span(30), Step::Day);
        assert_eq!(Step::for_span(366), Step::Day);
        assert_eq!(Step::for_span(367), Step::Week);
        assert_eq!(Step::for_span(5 * 365 + 2), Step::Week);
        assert_eq!(Step::for_span(20 * 365), Step::Month);
    }
    use crate::domain::series::day_of_date;
    use chrono::{NaiveDate, TimeZone};
    use chrono_tz::Europe::Paris;

    fn day(y: i32, m: u32, d: u32) -> Day {
        day_of_date(NaiveDate::from_ymd_opt(y, m, d).unwrap())
    }

    fn at(y: i32, m: u32, d: u32, h: u32) -> i64 {
        Paris.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap().timestamp()
    }

    fn row(day: Day, average: i32, min: i32, max: i32, stations: i32) -> SeriesRow {
        SeriesRow { day, average, stations, min_price: min, max_price: max, p10: min + 20, p90: max - 21 }
    }

    #[test]
    fn weeks_begin_on_monday_and_months_on_the_first() {
        // Sunday 8 June 2025 → Monday 2 June.
        assert_eq!(Step::Week.bucket(day(2025, 6, 8)), day(2025, 6, 2));
        assert_eq!(Step::Week.bucket(day(2025, 6, 9)), day(2025, 6, 9));
        assert_eq!(Step::Month.bucket(day(2025, 6, 30)), day(2025, 6, 1));
        assert_eq!(Step::Day.bucket(day(2025, 6, 30)), day(2025, 6, 30));
        assert_eq!(Step::parse("week"), Some(Step::Week));
        assert_eq!(Step::parse("year"), None);
    }

    #[test]
    fn aggregation_means_averages_and_keeps_extremes() {
        let rows = [
            row(day(2025, 6, 7), 1800, 1700, 1900, 10),
            row(day(2025, 6, 8), 1810, 1650, 1950, 12),
            row(day(2025, 6, 9), 1900, 1800, 2000, 11),
        ];
        let weeks = aggregate(&rows, Step::Week);
        assert_eq!(
            weeks,
            vec![
                Point { day: day(2025, 6, 2), average: 1805, min: 1650, max: 1950, p10: 1695, p90: 1904, stations: 11 },
                Point { day: day(2025, 6, 9), average: 1900, min: 1800, max: 2000, p10: 1820, p90: 1979, stations: 11 },
            ]
        );
        let month = aggregate(&rows, Step::Month);
        assert_eq!(month.len(), 1);
        assert_eq!((month[0].average, month[0].min, month[0].max), (1837, 1650, 2000));
        assert_eq!(aggregate(&rows, Step::Day).len(), 3);
    }

    #[test]
    fn closes_carry_the_last_price_of_each_day() {
        let points = [(at(2025, 5, 20, 9), 1700), (at(2025, 6, 2, 8), 1750), (at(2025, 6, 2, 19), 1760)];
        let c = closes(&points, day(2025, 6, 1), day(2025, 6, 3));
        assert_eq!(c, vec![(day(2025, 6, 1), 1700), (day(2025, 6, 2), 1760), (day(2025, 6, 3), 1760)]);
        // Before the first point there is nothing.
        assert_eq!(closes(&points, day(2025, 5, 19), day(2025, 5, 20)), vec![(day(2025, 5, 20), 1700)]);
        let w = aggregate_closes(&c, Step::Week);
        let flat = |d, p| Point { day: d, average: p, min: p, max: p, p10: p, p90: p, stations: 1 };
        assert_eq!(w[0], flat(day(2025, 5, 26), 1700));
        assert_eq!(w[1], flat(day(2025, 6, 2), 1760));
    }
}
