//! Who asked for an import: stored with each feed run (`etl_runs.trigger`) and names import
//! (`names_imports.trigger`), shown in the console's run lists.

/// Who asked for an import or a run. Stored as its word; the rows keep the word as text when
/// read back (older rows may hold words this enum no longer has).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The server's own schedule (the feed every 10 minutes, the names every week).
    Schedule,
    /// The server's start: the history backfill it runs once.
    Startup,
    /// A `carburoam` command.
    Cli,
    /// The admin console's "run now" buttons.
    Admin,
    /// `carburoam history backfill` and its own archive imports.
    Backfill,
    /// A benchmark.
    Bench,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::Startup => "startup",
            Trigger::Cli => "cli",
            Trigger::Admin => "admin",
            Trigger::Backfill => "backfill",
            Trigger::Bench => "bench",
        }
    }

    pub fn parse(word: &str) -> Option<Trigger> {
        [Trigger::Schedule, Trigger::Startup, Trigger::Cli, Trigger::Admin, Trigger::Backfill, Trigger::Bench]
            .into_iter()
            .find(|t| t.as_str() == word)
    }

    /// A schedule waits for the import lease as long as another import may hold it; a person
    /// (console, command) gets an answer within seconds.
    pub fn waits_for_lease(self) -> bool {
        self == Trigger::Schedule
    }
}

impl std::fmt::Display for Trigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Trigger;

    #[test]
    fn every_trigger_reads_back_from_its_word() {
        for t in [Trigger::Schedule, Trigger::Startup, Trigger::Cli, Trigger::Admin, Trigger::Backfill, Trigger::Bench]
        {
            assert_eq!(Trigger::parse(t.as_str()), Some(t));
            assert_eq!(t.to_string(), t.as_str());
        }
        assert_eq!(Trigger::parse("test"), None);
        assert!(Trigger::Schedule.waits_for_lease() && !Trigger::Admin.waits_for_lease());
    }
}
