//! What a rule is, checked once: its kind, the values a form may give, and the clock rules of
//! Europe/Paris (quiet hours, the digest's next occurrence, the day the cap counts on).

use chrono::{Datelike, NaiveDate, TimeZone, Timelike, Utc};
use chrono_tz::Europe::Paris;

use crate::db::alerts::{RuleFields, Settings};
use crate::domain::{RuleKind, SavedRouteId};

/// A price typed as euros per litre (`1,65`, `1.659`, `1.65 €`) in thousandths, within 0.1–5 €.
pub fn parse_price(s: &str) -> Option<i32> {
    let t: String = s.trim().trim_end_matches('€').trim().replace(',', ".");
    let v: f64 = t.parse().ok().filter(|v: &f64| v.is_finite())?;
    let milli = (v * 1000.0).round();
    (100.0..=5000.0).contains(&milli).then_some(milli as i32)
}

/// Cents (1–50) in thousandths of a euro.
pub fn parse_cents(s: &str) -> Option<i32> {
    s.trim().parse::<i32>().ok().filter(|c| (1..=50).contains(c)).map(|c| c * 10)
}

/// `22:00`, `7:30`, `7` as minutes after midnight.
pub fn parse_time(s: &str) -> Option<i16> {
    let t = s.trim();
    let (h, m) = t.split_once([':', 'h']).unwrap_or((t, "0"));
    let h: i16 = h.trim().parse().ok().filter(|h| (0..24).contains(h))?;
    let m: i16 = if m.trim().is_empty() { 0 } else { m.trim().parse().ok().filter(|m| (0..60).contains(m))? };
    Some(h * 60 + m)
}

/// `HH:MM` of minutes after midnight.
pub fn show_time(minutes: i16) -> String {
    crate::domain::Lang::hhmm(u16::try_from(minutes).unwrap_or(0))
}

/// Minutes after midnight, Paris time, and the Paris date, of a Unix time.
fn paris(ts: i64) -> (i16, NaiveDate) {
    let t = Utc.timestamp_opt(ts, 0).single().unwrap_or_default().with_timezone(&Paris);
    ((t.hour() * 60 + t.minute()) as i16, t.date_naive())
}

/// The Unix time of a Paris wall-clock time, the earliest when it is ambiguous, the next valid
/// minute when it does not exist (the spring gap).
fn paris_at(date: NaiveDate, minutes: i16) -> i64 {
    let mut m = i64::from(minutes);
    loop {
        let Some(naive) = date.and_hms_opt((m / 60 % 24) as u32, (m % 60) as u32, 0) else {
            return 0;
        };
        if let Some(t) = Paris.from_local_datetime(&naive).earliest() {
            return t.timestamp();
        }
        m += 1;
        if m >= 24 * 60 {
            return 0;
        }
    }
}

/// When quiet hours hold at `now`, the instant they end; `None` outside them (or with
/// `quiet_start == quiet_end`: no quiet hours).
pub fn quiet_until(s: &Settings, now: i64) -> Option<i64> {
    let (m, date) = paris(now);
    let (start, end) = (s.quiet_start, s.quiet_end);
    let quiet = match start.cmp(&end) {
        std::cmp::Ordering::Equal => false,
        std::cmp::Ordering::Less => m >= start && m < end,
        std::cmp::Ordering::Greater => m >= start || m < end,
    };
    if !quiet {
        return None;
    }
    let end_date = if m >= end { date.succ_opt()? } else { date };
    Some(paris_at(end_date, end))
}

/// The Paris day of a Unix time as `YYYYMMDD`, for the daily cap.
pub fn paris_day(ts: i64) -> i32 {
    let (_, d) = paris(ts);
    d.year() * 10_000 + d.month() as i32 * 100 + d.day() as i32
}

/// The first Paris `weekday` (1 = Monday) at `hour`:00 strictly after `after`.
pub fn next_digest(weekday: i16, hour: i16, after: i64) -> i64 {
    let (_, mut date) = paris(after);
    for _ in 0..9 {
        if date.weekday().number_from_monday() as i16 == weekday {
            let t = paris_at(date, hour * 60);
            if t > after {
                return t;
            }
        }
        match date.succ_opt() {
            Some(d) => date = d,
            None => break,
        }
    }
    after + 7 * 86_400
}

/// Great-circle distance in km.
pub fn distance_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * 6371.0 * a.sqrt().asin()
}

/// Which field of the rule form is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    Kind,
    Fuel,
    Price,
    Drop,
    Place,
    Radius,
    Route,
    /// The corridor along a route: outside 0.5–20 km.
    Corridor,
    Weekday,
    Hour,
}

/// The rule form, as typed. The place is resolved by the caller (it needs the place index):
/// `place` is its label and position when found; so is the route (`route`: the id of one of the
/// user's saved routes, `None` when none was chosen or it is not theirs).
pub struct RuleForm<'a> {
    pub kind: &'a str,
    pub fuel: &'a str,
    pub price: &'a str,
    pub drop_cents: &'a str,
    pub near_place: bool,
    pub place: Option<(String, f64, f64)>,
    pub radius_km: &'a str,
    pub near_route: bool,
    pub route: Option<SavedRouteId>,
    /// Km each side of the route (empty: [`crate::route::DEFAULT_CORRIDOR_KM`]).
    pub corridor_km: &'a str,
    pub weekday: &'a str,
    pub hour: &'a str,
}

/// Checks a rule form; every problem at once.
pub fn check(form: &RuleForm<'_>, now: i64) -> Result<RuleFields, Vec<Problem>> {
    let mut problems = Vec::new();
    let Some(kind) = RuleKind::parse(form.kind) else {
        return Err(vec![Problem::Kind]);
    };
    let mut f = RuleFields { kind, ..RuleFields::default() };
    if kind != RuleKind::Digest {
        match form.fuel.parse::<crate::domain::Fuel>() {
            Ok(fuel) => f.fuel = Some(fuel.id()),
            Err(_) => problems.push(Problem::Fuel),
        }
    }
    match kind {
        RuleKind::Threshold => {
            match parse_price(form.price) {
                Some(p) => f.price = Some(p),
                None => problems.push(Problem::Price),
            }
            if form.near_route {
                match form.route {
                    Some(id) => f.route_id = Some(id),
                    None => problems.push(Problem::Route),
                }
                let range = crate::route::MIN_CORRIDOR_KM..=crate::route::MAX_CORRIDOR_KM;
                match form.corridor_km.trim().replace(',', ".") {
                    w if w.is_empty() => f.corridor_km = Some(crate::route::DEFAULT_CORRIDOR_KM),
                    w => match w.parse::<f64>() {
                        Ok(w) if range.contains(&w) => f.corridor_km = Some(w),
                        _ => problems.push(Problem::Corridor),
                    },
                }
            } else if form.near_place {
                match &form.place {
                    Some((label, lat, lon)) => {
                        f.place = Some(label.clone());
                        f.latitude = Some(*lat);
                        f.longitude = Some(*lon);
                    }
                    None => problems.push(Problem::Place),
                }
                match form.radius_km.trim().replace(',', ".").parse::<f64>() {
                    Ok(r) if (1.0..=100.0).contains(&r) => f.radius_km = Some(r),
                    _ => problems.push(Problem::Radius),
                }
            }
        }
        RuleKind::Drop => match parse_cents(form.drop_cents) {
            Some(d) => f.drop_by = Some(d),
            None => problems.push(Problem::Drop),
        },
        RuleKind::Cheapest => {}
        RuleKind::Digest => {
            let day = form.weekday.trim().parse::<i16>().ok().filter(|d| (1..=7).contains(d));
            let hour = form.hour.trim().parse::<i16>().ok().filter(|h| (0..=23).contains(h));
            if day.is_none() {
                problems.push(Problem::Weekday);
            }
            if hour.is_none() {
                problems.push(Problem::Hour);
            }
            if let (Some(d), Some(h)) = (day, hour) {
                f.weekday = Some(d);
                f.hour = Some(h);
                f.next_run_at = Some(next_digest(d, h, now));
            }
        }
    }
    if problems.is_empty() { Ok(f) } else { Err(problems) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        assert_eq!(parse_price("1,65"), Some(1650));
        assert_eq!(parse_price(" 1.659 € "), Some(1659));
        assert_eq!(parse_price("0.05"), None);
        assert_eq!(parse_price("abc"), None);
        assert_eq!(parse_price("NaN"), None);
        assert_eq!(parse_cents("5"), Some(50));
        assert_eq!(parse_cents("0"), None);
        assert_eq!(parse_time("22:00"), Some(1320));
        assert_eq!(parse_time("7h30"), Some(450));
        assert_eq!(parse_time("7"), Some(420));
        assert_eq!(parse_time("24:00"), None);
        assert_eq!(show_time(420), "07:00");
    }

    #[test]
    fn quiet_hours_in_paris_time() {
        let s = Settings::default();
        // 2025-10-25T20:30:00Z = 22:30 in Paris (summer time): quiet until 07:00 the next morning,
        // which is already winter time (06:00Z).
        let late = 1_761_424_200;
        assert_eq!(quiet_until(&s, late), Some(1_761_458_400));
        // 2025-10-25T10:00:00Z = 12:00: not quiet.
        assert_eq!(quiet_until(&s, 1_761_386_400), None);
        // 2025-10-26T05:00:00Z = 06:00 (winter): quiet until 07:00 the same day.
        assert_eq!(quiet_until(&s, 1_761_454_800), Some(1_761_458_400));
        let none = Settings { quiet_start: 0, quiet_end: 0, daily_cap: 3 };
        assert_eq!(quiet_until(&none, late), None);
        assert_eq!(paris_day(late), 20251025);
        assert_eq!(paris_day(1_761_435_000), 20251026, "01:30 in Paris is the next day");
    }

    #[test]
    fn digest_times() {
        // Saturday 2025-10-25 12:00 Paris; next Monday 08:00 is 2025-10-27T07:00:00Z (winter).
        let sat_noon = 1_761_386_400;
        assert_eq!(next_digest(1, 8, sat_noon), 1_761_548_400);
        // Saturday at 12:00 itself is not "after": next week.
        assert_eq!(next_digest(6, 12, sat_noon), sat_noon + 7 * 86_400 + 3600);
        assert!((distance_km(48.8566, 2.3522, 48.774, 2.28) - 10.6).abs() < 0.5);
    }

    #[test]
    fn forms() {
        let mut form = RuleForm {
            kind: "threshold",
            fuel: "Gazole",
            price: "1,65",
            drop_cents: "",
            near_place: false,
            place: None,
            radius_km: "",
            near_route: false,
            route: None,
            corridor_km: "",
            weekday: "",
            hour: "",
        };
        let f = check(&form, 0).unwrap();
        assert_eq!((f.fuel, f.price, f.latitude), (Some(1), Some(1650), None));
        form.near_place = true;
        assert_eq!(check(&form, 0).unwrap_err(), vec![Problem::Place, Problem::Radius]);
        form.near_route = true;
        assert_eq!(check(&form, 0).unwrap_err(), vec![Problem::Route]);
        form.route = Some(SavedRouteId::new(7));
        let f = check(&form, 0).unwrap();
        assert_eq!(
            (f.route_id, f.latitude, f.radius_km, f.corridor_km),
            (Some(SavedRouteId::new(7)), None, None, Some(3.0))
        );
        form.corridor_km = "2,5";
        assert_eq!(check(&form, 0).unwrap().corridor_km, Some(2.5));
        for bad in ["0.4", "20.5", "large", "NaN"] {
            form.corridor_km = bad;
            assert_eq!(check(&form, 0).unwrap_err(), vec![Problem::Corridor], "{bad}");
        }
        form.kind = "nope";
        assert_eq!(check(&form, 0).unwrap_err(), vec![Problem::Kind]);
        form.kind = "digest";
        form.weekday = "8";
        assert_eq!(check(&form, 0).unwrap_err(), vec![Problem::Weekday, Problem::Hour]);
    }
}
