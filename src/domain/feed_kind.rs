//! The kind of a feed document: the parser tells it, the runs store it (`etl_runs.feed_kind`).

/// The kind of document, told from its content (never from the file name); stored as its word
/// in `etl_runs.feed_kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedKind {
    /// `instantane` or `instantane_ruptures`: one current price per fuel per station.
    Snapshot,
    /// `jour` / `annee` archives, and pre-2015 files: every price change of the period, so
    /// several `<prix>` per fuel per station.
    Archive,
}

impl FeedKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedKind::Snapshot => "snapshot",
            FeedKind::Archive => "archive",
        }
    }
}
