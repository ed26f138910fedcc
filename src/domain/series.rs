//! Daily average prices: the pure computation behind the stored series (`price_series`).
//!
//! **The average of a day** is the mean of the prices in effect at the end of that day (Paris
//! time: the last instant before the next midnight) over the stations whose price was set at most
//! [`MAX_AGE_SECS`] (30 days) before that instant. The history keeps change points, so "set" means
//! the last change of the price: a price unchanged for more than 30 days no longer counts (a
//! station that stopped reporting keeps its last price in the history forever).
//!
//! Days are Paris calendar days counted from 1970-01-01 ([`Day`]). A change at time `t` on day
//! `D` can only move the days `D..=D+30` (after that it is older than 30 days), which is what
//! lets an import recompute only the days it touched.

use chrono::{NaiveDate, TimeZone};
use chrono_tz::Europe::Paris;

use crate::domain::histogram::{self, Histogram};

/// A Paris calendar day, as days since 1970-01-01.
pub type Day = i32;

/// How old a price may be, at the end of a day, to count in that day's average.
pub const MAX_AGE_SECS: i64 = 30 * 86_400;

/// How many days after its own a change point can move: `D..=D+REACH_DAYS`.
pub const REACH_DAYS: Day = 30;

/// The area key of the national series.
pub const NATIONAL: &str = "FR";

const EPOCH: NaiveDate = NaiveDate::from_ymd_opt(1970, 1, 1).expect("1970-01-01");

/// The calendar date of a day.
pub fn date(day: Day) -> NaiveDate {
    EPOCH + chrono::Duration::days(i64::from(day))
}

/// The day of a calendar date.
pub fn day_of_date(d: NaiveDate) -> Day {
    Day::try_from((d - EPOCH).num_days()).unwrap_or(if d < EPOCH { Day::MIN } else { Day::MAX })
}

/// The Paris day of a Unix time.
pub fn day_of(ts: i64) -> Day {
    match chrono::DateTime::from_timestamp(ts, 0) {
        Some(t) => day_of_date(t.with_timezone(&Paris).date_naive()),
        None if ts < 0 => Day::MIN,
        None => Day::MAX,
    }
}

/// The Unix time of the Paris midnight that begins `day`.
pub fn day_start(day: Day) -> i64 {
    // The EU rule Paris follows since 1996 (as `feed::parse::maj`): midnight is summer time
    // from the day after the last Sunday of March to the last Sunday of October, the changes
    // happening at 02:00 and 03:00. A chart over twenty years asks for thousands of these, and
    // the tz database's search was a tenth of the page; a test checks both agree. The summer of
    // the last year asked is remembered: days come in runs.
    thread_local! {
        static SUMMER: std::cell::Cell<(i64, i64, i64, i64)> = const { std::cell::Cell::new((1, 0, 0, 0)) };
    }
    let d = i64::from(day);
    let (mut first, mut next, mut from, mut to) = SUMMER.with(std::cell::Cell::get);
    if !(first..next).contains(&d) {
        let (year, _, _) = crate::domain::time::civil_from_days(d);
        if !(1996..=2099).contains(&year) {
            return day_start_tz(day);
        }
        use crate::domain::time::{days_from_civil, last_sunday};
        (first, next) = (days_from_civil(year, 1, 1), days_from_civil(year + 1, 1, 1));
        (from, to) = (last_sunday(year, 3), last_sunday(year, 10));
        SUMMER.with(|c| c.set((first, next, from, to)));
    }
    let summer = from < d && d <= to;
    d * 86_400 - if summer { 7200 } else { 3600 }
}

/// [`day_start`] from the tz database.
fn day_start_tz(day: Day) -> i64 {
    let naive = date(day).and_hms_opt(0, 0, 0).unwrap_or_default();
    // Midnight always exists in Paris (the changes happen at 02:00 and 03:00).
    match Paris.from_local_datetime(&naive) {
        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => t.timestamp(),
        chrono::LocalResult::None => naive.and_utc().timestamp() - 3600,
    }
}

/// The weekday of a day: 1 = Monday … 7 = Sunday.
pub fn weekday(day: Day) -> u8 {
    // 1970-01-01 was a Thursday.
    (i64::from(day) + 3).rem_euclid(7) as u8 + 1
}

/// The first day of the month holding `day`.
pub fn month_start(day: Day) -> Day {
    // The last month asked is remembered: a chart groups thousands of days in order.
    thread_local! {
        static MONTH: std::cell::Cell<(Day, Day)> = const { std::cell::Cell::new((1, 0)) };
    }
    let (first, next) = MONTH.with(std::cell::Cell::get);
    if (first..next).contains(&day) {
        return first;
    }
    let (_, _, d) = crate::domain::time::civil_from_days(i64::from(day));
    let first = day - (d as Day - 1);
    let (y, m, _) = crate::domain::time::civil_from_days(i64::from(first) + 31);
    let next = Day::try_from(crate::domain::time::days_from_civil(y, m, 1)).unwrap_or(Day::MAX);
    MONTH.with(|c| c.set((first, next)));
    first
}

/// One day of one area.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayStat {
    /// Mean price, thousandths of a euro, rounded half away from zero.
    pub average: i32,
    /// Sum of the prices (what imports move by deltas).
    pub total: i64,
    pub stations: i32,
    pub min: i32,
    pub max: i32,
    /// The 10th and 90th percentiles by nearest rank ([`histogram::percentile`]).
    pub p10: i32,
    pub p90: i32,
    /// Every station's price: what the others follow from.
    pub hist: Histogram,
}

/// Computes the days `first..=last` of `areas` areas plus the national one, from each
/// station's change points (fed one station at a time, in time order). The points a station
/// needs are those at or after `window().0` and before `window().1`: older ones are more than 30
/// days old on every day computed, newer ones come after the last day.
pub struct DailyAverages {
    first: Day,
    /// `ends[i]`: the Paris midnight that ends day `first + i`.
    ends: Vec<i64>,
    areas: usize,
    /// `cells[area * days + i]`; the national area is `areas`.
    cells: Vec<Histogram>,
}

impl DailyAverages {
    pub fn new(first: Day, last: Day, areas: usize) -> DailyAverages {
        let days = usize::try_from(last - first + 1).unwrap_or(0);
        let ends = (0..days).map(|i| day_start(first + i as Day + 1)).collect();
        DailyAverages { first, ends, areas, cells: vec![Histogram::new(); days * (areas + 1)] }
    }

    /// The change points to read: `at >= .0 && at < .1`.
    pub fn window(&self) -> (i64, i64) {
        match (self.ends.first(), self.ends.last()) {
            (Some(first_end), Some(last_end)) => (first_end - MAX_AGE_SECS, *last_end),
            _ => (0, 0),
        }
    }

    /// One station of area `area` (`None`: counted in the national series only), its change
    /// points `(at, price)` in time order, distinct times.
    pub fn station(&mut self, area: Option<usize>, points: &[(i64, i32)]) {
        let days = self.ends.len();
        for (i, &(at, price)) in points.iter().enumerate() {
            let next = points.get(i + 1).map_or(i64::MAX, |p| p.0);
            // The first day whose end comes after the change.
            let mut k = self.ends.partition_point(|&end| end <= at);
            // In effect at the end of day k: set before it ends, not replaced before it ends,
            // and at most 30 days old then.
            while k < days && self.ends[k] <= next && self.ends[k] - at <= MAX_AGE_SECS {
                if let Some(a) = area.filter(|&a| a < self.areas) {
                    histogram::add(&mut self.cells[a * days + k], price, 1);
                }
                histogram::add(&mut self.cells[self.areas * days + k], price, 1);
                k += 1;
            }
        }
    }

    /// The days with at least one station: `(area, day, stat)`, `area == None` for the nation.
    pub fn finish(self) -> Vec<(Option<usize>, Day, DayStat)> {
        let days = self.ends.len();
        let mut out = Vec::new();
        for (j, hist) in self.cells.into_iter().enumerate() {
            let Some(s) = histogram::summary(&hist) else { continue };
            let (area, k) = (j / days, j % days);
            out.push(((area < self.areas).then_some(area), self.first + k as Day, DayStat::of(s, hist)));
        }
        out
    }
}

impl DayStat {
    /// A day from its histogram's summary.
    pub fn of(s: histogram::Summary, hist: Histogram) -> DayStat {
        let average = (s.total as f64 / f64::from(s.stations.max(1))).round() as i32;
        DayStat { average, total: s.total, stations: s.stations, min: s.min, max: s.max, p10: s.p10, p90: s.p90, hist }
    }
}

/// Splits the days to recompute into intervals: each touched day `D` (in any order, repeats
/// allowed) moves `D..=D+REACH_DAYS`, never past `cap`; overlapping or adjacent intervals merge.
pub fn reach(touched: impl IntoIterator<Item = Day>, cap: Day) -> Vec<(Day, Day)> {
    let mut days: Vec<Day> = touched.into_iter().filter(|&d| d <= cap).collect();
    days.sort_unstable();
    days.dedup();
    let mut out: Vec<(Day, Day)> = Vec::new();
    for d in days {
        let end = d.saturating_add(REACH_DAYS).min(cap);
        match out.last_mut() {
            Some(last) if d <= last.1.saturating_add(1) => last.1 = last.1.max(end),
            _ => out.push((d, end)),
        }
    }
    out
}

/// Sorts intervals and merges the overlapping or adjacent ones.
pub fn merge(mut intervals: Vec<(Day, Day)>) -> Vec<(Day, Day)> {
    intervals.retain(|(a, b)| a <= b);
    intervals.sort_unstable();
    let mut out: Vec<(Day, Day)> = Vec::with_capacity(intervals.len());
    for (a, b) in intervals {
        match out.last_mut() {
            Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// Cuts intervals into pieces of at most `len` days (the computation holds one piece at a time).
pub fn pieces(intervals: &[(Day, Day)], len: Day) -> Vec<(Day, Day)> {
    let len = len.max(1);
    let mut out = Vec::new();
    for &(a, b) in intervals {
        let mut start = a;
        while start <= b {
            let end = start.saturating_add(len - 1).min(b);
            out.push((start, end));
            if end == Day::MAX {
                break;
            }
            start = end + 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Datelike;

    #[test]
    fn day_arithmetic_agrees_with_chrono_and_the_tz_database() {
        for day in day_of_date(NaiveDate::from_ymd_opt(1980, 1, 1).unwrap())
            ..day_of_date(NaiveDate::from_ymd_opt(2110, 1, 1).unwrap())
        {
            assert_eq!(day_start(day), day_start_tz(day), "{}", date(day));
            assert_eq!(weekday(day), date(day).weekday().number_from_monday() as u8, "{}", date(day));
            let d = date(day);
            assert_eq!(month_start(day), day_of_date(d.with_day(1).unwrap()), "{d}");
        }
        assert_eq!(weekday(-1), 3, "1969-12-31 was a Wednesday");
    }

    fn paris(y: i32, m: u32, d: u32, h: u32, min: u32) -> i64 {
        let naive = NaiveDate::from_ymd_opt(y, m, d).and_then(|x| x.and_hms_opt(h, min, 0)).unwrap();
        Paris.from_local_datetime(&naive).earliest().unwrap().timestamp()
    }

    fn day(y: i32, m: u32, d: u32) -> Day {
        day_of_date(NaiveDate::from_ymd_opt(y, m, d).unwrap())
    }

    #[test]
    fn days_follow_the_paris_calendar() {
        assert_eq!(day(1970, 1, 1), 0);
        assert_eq!(date(day(2024, 2, 29)), NaiveDate::from_ymd_opt(2024, 2, 29).unwrap());
        // 23:30 UTC on 31 December is already 1 January in Paris.
        let t = chrono::Utc.with_ymd_and_hms(2024, 12, 31, 23, 30, 0).unwrap().timestamp();
        assert_eq!(day_of(t), day(2025, 1, 1));
        assert_eq!(day_of(paris(2025, 3, 30, 0, 0)), day(2025, 3, 30));
        // The spring day lasts 23 hours, the autumn one 25.
        assert_eq!(day_start(day(2025, 3, 31)) - day_start(day(2025, 3, 30)), 23 * 3600);
        assert_eq!(day_start(day(2025, 10, 27)) - day_start(day(2025, 10, 26)), 25 * 3600);
        assert_eq!(weekday(day(2025, 6, 2)), 1);
        assert_eq!(weekday(day(2025, 6, 8)), 7);
    }

    #[test]
    fn a_price_counts_from_its_day_to_thirty_days_after() {
        let d = day(2025, 6, 1);
        let mut avg = DailyAverages::new(d - 2, d + 40, 1);
        avg.station(Some(0), &[(paris(2025, 6, 1, 8, 0), 1800)]);
        let out = avg.finish();
        let days: Vec<Day> = out.iter().filter(|r| r.0.is_none()).map(|r| r.1).collect();
        // Its own day (in effect at its end), then while at most 30 days old at a day's end:
        // 30 June ends 29 days 16 hours after 08:00 on 1 June, 1 July 30 days 16 hours after.
        assert_eq!(days, (d..=d + 29).collect::<Vec<_>>());
        let one = DayStat {
            average: 1800,
            total: 1800,
            stations: 1,
            min: 1800,
            max: 1800,
            p10: 1800,
            p90: 1800,
            hist: vec![(1800, 1)],
        };
        assert!(out.iter().all(|r| r.2 == one));
    }

    #[test]
    fn the_price_at_the_end_of_the_day_counts_and_areas_add_up() {
        let d = day(2025, 6, 1);
        let mut avg = DailyAverages::new(d, d + 1, 2);
        // Station A: 1.800 in the morning, 1.900 in the evening of the same day.
        avg.station(Some(0), &[(paris(2025, 6, 1, 8, 0), 1800), (paris(2025, 6, 1, 20, 0), 1900)]);
        // Station B: 1.701 the day before (outside the computed days, inside the window).
        avg.station(Some(1), &[(paris(2025, 5, 31, 12, 0), 1701)]);
        // Station C, in no known area: national only.
        avg.station(None, &[(paris(2025, 6, 2, 0, 0), 1600)]);
        let out = avg.finish();
        let get = |area: Option<usize>, day: Day| out.iter().find(|r| r.0 == area && r.1 == day).map(|r| r.2.clone());
        assert_eq!(get(Some(0), d).unwrap().average, 1900);
        assert_eq!(get(Some(1), d).unwrap().average, 1701);
        let nat = get(None, d).unwrap();
        assert_eq!((nat.average, nat.stations, nat.min, nat.max), (1801, 2, 1701, 1900));
        let nat2 = get(None, d + 1).unwrap();
        assert_eq!((nat2.stations, nat2.min), (3, 1600));
        assert_eq!((nat2.p10, nat2.p90, nat2.hist), (1600, 1900, vec![(1600, 1), (1701, 1), (1900, 1)]));
        // Mean of 1900, 1701, 1600 = 1733.67 → 1734.
        assert_eq!(nat2.average, 1734);
    }

    #[test]
    fn a_change_at_midnight_belongs_to_the_next_day() {
        let d = day(2025, 6, 1);
        let mut avg = DailyAverages::new(d, d + 1, 1);
        avg.station(Some(0), &[(paris(2025, 6, 1, 9, 0), 1800), (paris(2025, 6, 2, 0, 0), 1850)]);
        let out = avg.finish();
        let nat: Vec<(Day, i32)> = out.iter().filter(|r| r.0.is_none()).map(|r| (r.1, r.2.average)).collect();
        assert_eq!(nat, vec![(d, 1800), (d + 1, 1850)]);
        assert_eq!(avg_window_start(d), day_start(d + 1) - MAX_AGE_SECS);
    }

    fn avg_window_start(first: Day) -> i64 {
        DailyAverages::new(first, first + 3, 0).window().0
    }

    #[test]
    fn reach_merges_and_caps() {
        assert_eq!(reach([10, 5, 10, 100], 200), vec![(5, 40), (100, 130)]);
        assert_eq!(reach([10, 41], 200), vec![(10, 71)]);
        assert_eq!(reach([10, 300], 20), vec![(10, 20)]);
        assert_eq!(reach(Vec::new(), 20), Vec::<(Day, Day)>::new());
        assert_eq!(merge(vec![(50, 60), (1, 10), (11, 12), (5, 8), (70, 69)]), vec![(1, 12), (50, 60)]);
        assert_eq!(pieces(&[(1, 10)], 4), vec![(1, 4), (5, 8), (9, 10)]);
    }
}
