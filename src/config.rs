//! Settings shared by the commands, from flags and `CARBUROAM_*` / `DATABASE_URL` variables.

use std::path::PathBuf;
use std::time::Duration;

/// The official feed with shortages, refreshed about every 10 minutes.
pub const DEFAULT_FEED_URL: &str = "https://donnees.roulez-eco.fr/opendata/instantane_ruptures";

/// Where data lives by default: `./data` beside where the server is started.
pub fn default_data_dir() -> PathBuf {
    PathBuf::from("data")
}

/// The default database: a SQLite file in the data folder, created on first start.
pub fn default_database_url(data_dir: &std::path::Path) -> String {
    format!("sqlite://{}", data_dir.join("carburoam.db").display())
}

/// How often the scheduler imports the feed: a duration (`10m`, `90s`, `1h`) or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EtlEvery(pub Option<Duration>);

impl std::str::FromStr for EtlEvery {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("off") || t == "0" {
            return Ok(EtlEvery(None));
        }
        let d = humantime::parse_duration(t)
            .map_err(|e| format!("{t:?} is not a duration like 10m or 1h, nor off: {e}"))?;
        if d < Duration::from_secs(10) {
            return Err(format!("{t:?} is too short: at least 10s (the feed changes every 10 minutes)"));
        }
        Ok(EtlEvery(Some(d)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etl_every() {
        assert_eq!("off".parse::<EtlEvery>().unwrap(), EtlEvery(None));
        assert_eq!("10m".parse::<EtlEvery>().unwrap(), EtlEvery(Some(Duration::from_secs(600))));
        assert!("2s".parse::<EtlEvery>().is_err());
        assert!("soon".parse::<EtlEvery>().is_err());
    }
}
