//! The step after imports, shared by the feed job, `carburoam import` and the backfill: the
//! planner's statistics refreshed when the imports changed much, this server's alerts worker
//! woken, and the feed's conditional-GET state saved when a download brought the file.

use crate::alerts::Kicker;
use crate::db::Db;
use crate::feed::ImportReport;

/// What a download answered, to be asked again next time ("if modified since").
#[derive(Debug, Clone, Copy)]
pub struct SourceState<'a> {
    pub url: &'a str,
    pub etag: Option<&'a str>,
    pub last_modified: Option<&'a str>,
}

/// What follows one or more imports. Built with [`AfterImport::default`], then told what
/// happened; [`AfterImport::run`] does it once, however many files were imported.
#[derive(Debug, Default)]
pub struct AfterImport<'a> {
    refresh_statistics: bool,
    imported: bool,
    alerts: Option<&'a Kicker>,
    source_state: Option<SourceState<'a>>,
}

impl<'a> AfterImport<'a> {
    /// An import done: the statistics are refreshed if it changed a good part of the data.
    pub fn imported(&mut self, report: &ImportReport) -> &mut Self {
        self.refresh_statistics |= report.changed_much();
        self.imported = true;
        self
    }

    /// The alerts worker to wake once something was imported (its prices' alerts go out at
    /// once); `None` where no worker runs in this process.
    pub fn wake_alerts(&mut self, alerts: Option<&'a Kicker>) -> &mut Self {
        self.alerts = alerts;
        self
    }

    /// Files loaded that change the data however little they touch (a backfill's archives):
    /// the statistics are refreshed.
    pub fn refresh_statistics(&mut self) -> &mut Self {
        self.refresh_statistics = true;
        self
    }

    /// The download's state, saved for the next conditional request.
    pub fn source_state(&mut self, state: SourceState<'a>) -> &mut Self {
        self.source_state = Some(state);
        self
    }

    /// Refreshes the statistics (a failure only logs), wakes the alerts worker, then saves the
    /// source state: the import is committed whatever that last write does.
    #[tracing::instrument(skip_all, fields(statistics = self.refresh_statistics, source = self.source_state.is_some()))]
    pub async fn run(&self, db: &Db) -> Result<(), sqlx::Error> {
        if self.refresh_statistics {
            refresh_statistics(db).await;
        }
        if self.imported
            && let Some(alerts) = self.alerts
        {
            alerts.kick();
        }
        if let Some(s) = self.source_state {
            crate::db::feed_sources::save_state(db, s.url, s.etag, s.last_modified, None, crate::db::now()).await?;
        }
        Ok(())
    }
}

/// Refreshes the planner's statistics. Maintenance after imports, not part of loading a file;
/// a failure only logs (queries keep their older plans).
async fn refresh_statistics(db: &Db) {
    let t = std::time::Instant::now();
    match db.analyze().await {
        Ok(()) => tracing::debug!(elapsed_ms = t.elapsed().as_millis() as u64, "statistics refreshed"),
        Err(e) => tracing::warn!(error = %e, "ANALYZE failed (queries may be slower until the next one)"),
    }
}
