//! Locale formatting of prices, distances, durations and times (always shown in Europe/Paris):
//! the number and date conventions of each language, beside the sentences of the tables.

use chrono::{DateTime, Datelike, Timelike};
use chrono_tz::Europe::Paris;

use crate::domain::Lang;

const MONTHS_FR: [&str; 12] =
    ["janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."];
const MONTHS_EN: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const DAYS_FR: [&str; 7] = ["Lundi", "Mardi", "Mercredi", "Jeudi", "Vendredi", "Samedi", "Dimanche"];
const DAYS_EN: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

impl Lang {
    /// A decimal number as written in this language: `1,5` / `1.5`.
    fn decimal(self, s: String) -> String {
        match self {
            Lang::Fr => s.replace('.', ","),
            Lang::En => s,
        }
    }

    /// `1,739 €` in French, `€1.739` in English (prices are per litre, three decimals).
    pub fn price(self, milli: i32) -> String {
        let s = self.decimal(format!("{}.{:03}", milli / 1000, (milli % 1000).abs()));
        match self {
            Lang::Fr => format!("{s} €"),
            Lang::En => format!("€{s}"),
        }
    }

    /// Euros with two decimals (savings): `42,50 €` / `€42.50`.
    pub fn euros(self, v: f64) -> String {
        let s = self.decimal(format!("{v:.2}"));
        match self {
            Lang::Fr => format!("{s} €"),
            Lang::En => format!("€{s}"),
        }
    }

    /// `1,2 km` / `1.2 km`.
    pub fn km(self, km: f64) -> String {
        let s = if km < 10.0 { format!("{km:.1}") } else { format!("{km:.0}") };
        format!("{} km", self.decimal(s))
    }

    /// A size in bytes: `1,5 Mio` / `1.5 MiB`, `12 Kio` / `12 KiB`.
    pub fn bytes(self, bytes: u64) -> String {
        let (mib, kib) = match self {
            Lang::Fr => ("Mio", "Kio"),
            Lang::En => ("MiB", "KiB"),
        };
        if bytes >= 1 << 20 {
            format!("{} {mib}", self.decimal(format!("{:.1}", bytes as f64 / f64::from(1 << 20))))
        } else {
            format!("{} {kib}", bytes / 1024)
        }
    }

    /// How long ago `ts` was, from `now` (both Unix seconds): `il y a 3 h` / `3 h ago`.
    pub fn ago(self, now: i64, ts: i64) -> String {
        let secs = (now - ts).max(0);
        if secs < 60 {
            return match self {
                Lang::Fr => "à l’instant".to_owned(),
                Lang::En => "just now".to_owned(),
            };
        }
        let (n, fr, en) = if secs < 3600 {
            (secs / 60, "min", ("min", "min"))
        } else if secs < 48 * 3600 {
            (secs / 3600, "h", ("h", "h"))
        } else if secs < 60 * 86_400 {
            (secs / 86_400, "j", ("day", "days"))
        } else {
            (secs / (30 * 86_400), "mois", ("month", "months"))
        };
        match self {
            Lang::Fr => format!("il y a {n} {fr}"),
            Lang::En => format!("{} ago", self.count(n.unsigned_abs(), en.0, en.1)),
        }
    }

    /// A date and time in Europe/Paris: `5 juin 2026 à 12:10` / `5 June 2026, 12:10`.
    pub fn datetime(self, ts: i64) -> String {
        let Some(t) = DateTime::from_timestamp(ts, 0) else {
            return String::new();
        };
        let t = t.with_timezone(&Paris);
        match self {
            Lang::Fr => format!("{} à {:02}:{:02}", self.date(ts), t.hour(), t.minute()),
            Lang::En => format!("{}, {:02}:{:02}", self.date(ts), t.hour(), t.minute()),
        }
    }

    /// A day in Europe/Paris: `5 juin 2026` / `5 Jun 2026`.
    pub fn date(self, ts: i64) -> String {
        let Some(t) = DateTime::from_timestamp(ts, 0) else {
            return String::new();
        };
        let t = t.with_timezone(&Paris);
        let months = match self {
            Lang::Fr => &MONTHS_FR,
            Lang::En => &MONTHS_EN,
        };
        format!("{} {} {}", t.day(), months[t.month0() as usize], t.year())
    }

    /// Minutes after midnight as `06:20`.
    pub fn hhmm(minutes: u16) -> String {
        format!("{:02}:{:02}", (minutes / 60) % 24, minutes % 60)
    }

    /// Day 1 (Monday) to 7 (Sunday).
    pub fn day_name(self, day: u8) -> &'static str {
        let i = usize::from(day.clamp(1, 7) - 1);
        match self {
            Lang::Fr => DAYS_FR[i],
            Lang::En => DAYS_EN[i],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(Lang::Fr.price(1739), "1,739 €");
        assert_eq!(Lang::En.price(1739), "€1.739");
        assert_eq!(Lang::En.price(899), "€0.899");
        assert_eq!(Lang::Fr.ago(10_000, 10_000 - 3 * 3600 - 5), "il y a 3 h");
        assert_eq!(Lang::En.ago(10_000, 10_000 - 120), "2 min ago");
        assert_eq!(Lang::En.ago(1_000_000, 1_000_000 - 86_400 * 3), "3 days ago");
        assert_eq!(Lang::En.ago(10_000_000, 10_000_000 - 86_400 * 61), "2 months ago");
        assert_eq!(Lang::Fr.km(1.25), "1,2 km");
        // 2025-10-25T16:00:00Z is 18:00 in Paris (summer time).
        assert_eq!(Lang::Fr.datetime(1_761_408_000), "25 oct. 2025 à 18:00");
        assert_eq!(Lang::En.datetime(1_761_408_000), "25 Oct 2025, 18:00");
        assert_eq!(Lang::Fr.date(1_761_408_000), "25 oct. 2025");
        assert_eq!(Lang::hhmm(380), "06:20");
        assert_eq!(Lang::Fr.euros(42.5), "42,50 €");
        assert_eq!(Lang::Fr.bytes(3 << 19), "1,5 Mio");
        assert_eq!(Lang::En.bytes(12 * 1024), "12 KiB");
    }
}
