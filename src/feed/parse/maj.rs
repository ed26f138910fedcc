//! `maj` to UTC without chrono on the hot path: a yearly archive holds 3–4 million dates.
//!
//! The two shapes the feed writes (`YYYY-MM-DD HH:MM:SS`, and `YYYY-MM-DDTHH:MM:SS` in the
//! archives) are read by hand and converted with the EU summer-time rule Europe/Paris has
//! followed since 1996 (UTC+2 from the last Sunday of March 01:00 UTC to the last Sunday of
//! October 01:00 UTC), with the same choices as [`paris_local_to_utc`] in the two odd hours:
//! the repeated autumn hour is read as summer time (the earlier instant), the skipped spring
//! hour as winter time. Anything else (other shapes, years before 1996 or after 2099, leap
//! seconds) goes to [`paris_local_to_utc`]; a test checks both agree hour by hour.

use chrono::{DateTime, Utc};

use crate::domain::time::{days_from_civil, last_sunday};
use crate::domain::{ParisTimeError, paris_local_to_utc};

/// Converts a `maj` (Paris wall-clock time) to UTC: the same result as [`paris_local_to_utc`].
pub(super) fn maj_to_utc(raw: &str) -> Result<DateTime<Utc>, ParisTimeError> {
    fast(raw.trim().as_bytes()).and_then(|t| DateTime::from_timestamp(t, 0)).map_or_else(|| paris_local_to_utc(raw), Ok)
}

/// Unix seconds of a well-formed date of 1996–2099, `None` for anything else.
#[inline]
fn fast(b: &[u8]) -> Option<i64> {
    if b.len() != 19
        || b[4] != b'-'
        || b[7] != b'-'
        || (b[10] != b' ' && b[10] != b'T')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |from: usize, len: usize| -> Option<i64> {
        let mut v = 0i64;
        for &c in &b[from..from + len] {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + i64::from(c - b'0');
        }
        Some(v)
    };
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (h, mi, s) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1996..=2099).contains(&year) || !(1..=12).contains(&month) || h > 23 || mi > 59 || s > 59 {
        return None;
    }
    if day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let (days, start, end) = day_rule(year, month, day);
    let local = days * 86_400 + h * 3600 + mi * 60 + s;
    let offset = if (start..end).contains(&local) { 7200 } else { 3600 };
    Some(local - offset)
}

/// The day (days since 1970-01-01) and its year's summer time, in local wall-clock seconds:
/// from 03:00 on the last Sunday of March (02:00–02:59 does not exist and is read as winter
/// time) to 03:00 on the last Sunday of October (02:00–02:59 happens twice and is read as
/// summer time, the earlier instant). The last date asked is remembered: a file's dates come
/// in runs (a station's prices, a day's updates), and this was a tenth of the parse.
fn day_rule(year: i64, month: i64, day: i64) -> (i64, i64, i64) {
    thread_local! {
        static LAST: std::cell::Cell<(i64, (i64, i64, i64))> = const { std::cell::Cell::new((-1, (0, 0, 0))) };
    }
    let key = year * 10_000 + month * 100 + day;
    LAST.with(|last| {
        let (k, rule) = last.get();
        if k == key {
            return rule;
        }
        let start = last_sunday(year, 3) * 86_400 + 3 * 3600;
        let end = last_sunday(year, 10) * 86_400 + 3 * 3600;
        let rule = (days_from_civil(year, month, day), start, end);
        last.set((key, rule));
        rule
    })
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, NaiveDate};

    #[test]
    fn agrees_with_the_tz_database_hour_by_hour() {
        let mut t = NaiveDate::from_ymd_opt(1996, 1, 1).unwrap().and_hms_opt(0, 17, 42).unwrap();
        let end = NaiveDate::from_ymd_opt(2040, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap();
        let mut n = 0;
        while t < end {
            for sep in [' ', 'T'] {
                let raw = t.format(&format!("%Y-%m-%d{sep}%H:%M:%S")).to_string();
                assert!(fast(raw.as_bytes()).is_some(), "{raw}");
                assert_eq!(maj_to_utc(&raw), paris_local_to_utc(&raw.replace('T', " ")), "{raw}");
            }
            t += Duration::minutes(59);
            n += 1;
        }
        assert!(n > 300_000);
    }

    #[test]
    fn odd_hours_and_other_shapes() {
        for raw in [
            "2024-03-31 02:30:00", // skipped hour
            "2024-10-27 02:30:00", // repeated hour
            "2024-10-27 03:00:00",
            "2024-03-31 03:00:00",
            " 2024-02-29 12:00:00 ",
            "2014-09-29 12:27",
            "1995-06-01 12:00:00",
            "2023-02-29 12:00:00",
            "2024-13-01 12:00:00",
            "2024-06-01 24:00:00",
            "2024-06-01 23:59:60",
            "hier",
            "",
        ] {
            assert_eq!(maj_to_utc(raw), paris_local_to_utc(raw), "{raw:?}");
        }
        assert_eq!(fast(b"2023-02-29 12:00:00"), None);
        assert_eq!(maj_to_utc("2022-01-03T08:44:18").unwrap().to_rfc3339(), "2022-01-03T07:44:18+00:00");
    }
}
