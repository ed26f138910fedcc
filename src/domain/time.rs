use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Europe::Paris;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParisTimeError {
    #[error("date {0:?} is not of the form YYYY-MM-DD HH:MM:SS")]
    Malformed(String),
}

/// The period of a periodic job (`--etl-every`, `--names-every`, `--backup-every`): a duration
/// (`10m`, `1h`, `7d`) of at least `min`, or `off` (also `0`) for never (`None`). One parser, so
/// that the three settings accept the same words and refuse with the same errors.
pub fn parse_every(s: &str, min: std::time::Duration) -> Result<Option<std::time::Duration>, String> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("off") || t == "0" {
        return Ok(None);
    }
    let d = humantime::parse_duration(t)
        .map_err(|e| format!("{t:?} is not a duration like 10m, 1h or 7d, nor off: {e}"))?;
    if d < min {
        return Err(format!("{t:?} is too short: at least {}", humantime::format_duration(min)));
    }
    Ok(Some(d))
}

/// Seconds in a day of Unix time (UTC days; Unix time has no leap seconds).
pub const DAY: i64 = 86_400;

/// Unix seconds as an RFC 3339 UTC timestamp (`2026-06-05T10:10:00Z`); empty when out of range.
///
/// Written by hand for years 0–9999 (the same text as chrono's `to_rfc3339_opts`, checked by a
/// test): a chart over twenty years writes 1,500+ of them per response, and chrono's formatting
/// machinery was the largest part of serialising it.
pub fn rfc3339(ts: i64) -> String {
    let (days, secs) = (ts.div_euclid(86_400), ts.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    if !(0..=9999).contains(&y) {
        return DateTime::from_timestamp(ts, 0)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default();
    }
    let mut b = *b"0000-00-00T00:00:00Z";
    let mut put = |at: usize, v: i64, width: usize| {
        let mut v = v;
        for i in (0..width).rev() {
            b[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, y, 4);
    put(5, m, 2);
    put(8, d, 2);
    put(11, secs / 3600, 2);
    put(14, secs / 60 % 60, 2);
    put(17, secs % 60, 2);
    String::from_utf8(b.to_vec()).unwrap_or_default() // ASCII digits and separators
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The day (days since 1970-01-01) of the last Sunday of a 31-day month.
pub(crate) fn last_sunday(year: i64, month: i64) -> i64 {
    let last = days_from_civil(year, month, 31);
    // 1970-01-01 was a Thursday: (days + 4) % 7 is 0 on Sundays.
    last - (last + 4).rem_euclid(7)
}

/// The proleptic Gregorian date of a day counted from 1970-01-01 (H. Hinnant's algorithm).
pub(crate) fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Converts the feed's `maj` (Europe/Paris wall-clock time, no zone) to UTC.
///
/// DST rules come from the tz database (chrono-tz). In the autumn hour that happens twice
/// (02:00–02:59 on the last Sunday of October) the *earlier* instant is chosen: a price dated
/// in that hour was most likely set before the clocks went back, and choosing the earlier one
/// never dates a price in the future. In the spring hour that does not exist (02:00–02:59 on the
/// last Sunday of March) the wall time is read as if the clocks had not moved yet (UTC+1), which
/// is what a device whose clock had not switched would have written.
pub fn paris_local_to_utc(raw: &str) -> Result<DateTime<Utc>, ParisTimeError> {
    let s = raw.trim();
    let naive = fast_naive(s)
        .map(Ok)
        .unwrap_or_else(|| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S"))
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S"))
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M"))
        .map_err(|_| ParisTimeError::Malformed(raw.to_owned()))?;
    Ok(match Paris.from_local_datetime(&naive) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(earlier, _later) => earlier.with_timezone(&Utc),
        LocalResult::None => {
            // Gap: the offset before the jump is +01:00 (CET).
            let fixed = naive - chrono::Duration::hours(1);
            Utc.from_utc_datetime(&fixed)
        }
    })
}

/// The feed's one real shape, `YYYY-MM-DD HH:MM:SS`, read without chrono's format
/// interpreter (which costs more than the rest of a `<prix>`: the parser reads ~60,000 dates per
/// snapshot). Anything else, including leap seconds, goes to the general path, so the result is
/// the same.
fn fast_naive(s: &str) -> Option<NaiveDateTime> {
    let b = s.as_bytes();
    if b.len() != 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b' ' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |acc, &c| c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0')))
    };
    let year = i32::try_from(num(0..4)?).ok()?;
    chrono::NaiveDate::from_ymd_opt(year, num(5..7)?, num(8..10)?)?.and_hms_opt(
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_period_is_parsed_alike() {
        use std::time::Duration;
        let min = Duration::from_secs(3600);
        for off in ["off", "OFF", " 0 "] {
            assert_eq!(parse_every(off, min), Ok(None), "{off:?}");
        }
        assert_eq!(parse_every("7d", min), Ok(Some(Duration::from_secs(7 * DAY as u64))));
        assert_eq!(parse_every("5m", min).unwrap_err(), "\"5m\" is too short: at least 1h");
        assert!(parse_every("weekly", min).unwrap_err().contains("not a duration like 10m, 1h or 7d, nor off"));
    }

    #[test]
    fn rfc3339_is_chronos_text() {
        let chrono_text = |ts: i64| {
            DateTime::from_timestamp(ts, 0).map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)).unwrap()
        };
        // Every day from 1900 to 2100 at a moving time of day, and the edges.
        let mut ts = -2_208_988_800i64;
        while ts < 4_102_444_800 {
            assert_eq!(rfc3339(ts), chrono_text(ts), "{ts}");
            ts += 86_400 + 3_607;
        }
        for ts in [0, -1, 59, 86_399, 951_782_400, 1_709_164_800, 253_402_300_799, -62_167_219_200] {
            assert_eq!(rfc3339(ts), chrono_text(ts), "{ts}");
        }
        assert_eq!(rfc3339(253_402_300_800), chrono_text(253_402_300_800), "year 10000: chrono's text");
        assert_eq!(rfc3339(i64::MAX), "");
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn summer_and_winter() {
        assert_eq!(paris_local_to_utc("2026-06-05 12:09:37").unwrap(), utc("2026-06-05T10:09:37Z"));
        assert_eq!(paris_local_to_utc("2025-02-07 03:00:00").unwrap(), utc("2025-02-07T02:00:00Z"));
    }

    #[test]
    fn ambiguous_autumn_hour_takes_the_earlier_instant() {
        // 2024-10-27: 03:00 CEST → 02:00 CET, so 02:30 happens twice.
        assert_eq!(paris_local_to_utc("2024-10-27 02:30:00").unwrap(), utc("2024-10-27T00:30:00Z"));
        assert_eq!(paris_local_to_utc("2024-10-27 03:30:00").unwrap(), utc("2024-10-27T02:30:00Z"));
    }

    #[test]
    fn missing_spring_hour_reads_as_winter_time() {
        // 2025-03-30: 02:00 CET → 03:00 CEST, 02:30 never happens.
        assert_eq!(paris_local_to_utc("2025-03-30 02:30:00").unwrap(), utc("2025-03-30T01:30:00Z"));
        assert_eq!(paris_local_to_utc("2025-03-30 03:00:00").unwrap(), utc("2025-03-30T01:00:00Z"));
    }

    #[test]
    fn malformed() {
        for bad in ["", "2025-13-01 00:00:00", "yesterday", "2025-02-30 10:00:00"] {
            assert!(paris_local_to_utc(bad).is_err(), "{bad}");
        }
    }
}
