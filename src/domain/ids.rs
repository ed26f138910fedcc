//! Row ids of the site's own tables, one type each, so that a rule's id is never passed where a
//! channel's or a user's is expected. Each is the table's `INTEGER`/`BIGINT` key as it is
//! stored (sqlx `transparent`, on both backends), written as its plain number in JSON, URLs
//! and templates, and read from a `{id}` path segment (a segment that is not a number is the
//! 404 page, as an id that is not in the database is).

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! row_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, sqlx::Type)]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(i64);

        impl $name {
            /// The id of a row as the database gave it.
            pub const fn new(v: i64) -> $name {
                $name(v)
            }

            pub const fn get(self) -> i64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        /// The plain number, as a form field or a query parameter carries it.
        impl std::str::FromStr for $name {
            type Err = std::num::ParseIntError;

            fn from_str(s: &str) -> Result<$name, Self::Err> {
                s.parse().map($name)
            }
        }
    };
}

row_id!(
    /// `users.id`.
    UserId
);
row_id!(
    /// `alert_rules.id`: one of a user's price alerts.
    RuleId
);
row_id!(
    /// `alert_channels.id`: one of a user's delivery channels (email, ntfy, push).
    ChannelId
);
row_id!(
    /// `push_subscriptions.id`: one browser or device a user receives notifications on.
    PushSubscriptionId
);
row_id!(
    /// `saved_routes.id`: one of a user's saved routes (an alert along a route names it).
    SavedRouteId
);
row_id!(
    /// `audit_log.id`: one entry of the administrators' audit log.
    AuditId
);
row_id!(
    /// `etl_runs.id`: one import run (the admin's `/admin/etl/runs/{id}`, the loader's report).
    RunId
);
row_id!(
    /// `reset_codes.id`: one reset code sent to a user.
    ResetCodeId
);
row_id!(
    /// `alert_messages.id`: one message to a user (several triggers coalesced), sent on each of
    /// their channels.
    MessageId
);
row_id!(
    /// `alert_outbox.id`: the delivery of one message on one channel.
    OutboxId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_read_and_write_as_their_number() {
        let id: RuleId = serde_json::from_str("42").expect("a number");
        assert_eq!(id, RuleId::new(42));
        assert_eq!(serde_json::to_string(&id).expect("json"), "42");
        assert_eq!(format!("/me/alerts/rules/{id}/save"), "/me/alerts/rules/42/save");
        assert!(serde_json::from_str::<UserId>("\"x\"").is_err());
        assert_eq!("7".parse::<SavedRouteId>(), Ok(SavedRouteId::new(7)));
        assert!("x".parse::<PushSubscriptionId>().is_err());
    }
}
