//! How the domain's enums are stored: sqlx `Type`, `Encode` and `Decode` for both backends, so
//! rows decode into them and queries bind them directly. Each impl delegates to the column's
//! Rust type (`&str` for a text column, `i16` for a `SMALLINT`), so the stored values are the
//! ones the enums' `as_str`/`id` give; a stored value no variant has is a decode error.

use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::{Database, Decode, Encode, Type};

use crate::db::alert_outbox::OutboxState;
use crate::db::etl_runs::RunStatus;
use crate::domain::{ChannelKind, Fuel, MessageKind, RoadType, RuleKind, ShortageKind, StationId};
use crate::domain::{FeedKind, Trigger};

/// `$t` stored as a `$column` (its sqlx type): bound as the `$bound` that `$encode` gives, read
/// as a `$read` value (`'r`: the row's lifetime) that `$parse` turns back into a `$t`, or `None`.
macro_rules! stored_as {
    ($t:ty, $column:ty, $bound:ty, $read:ty, $encode:expr, $parse:expr) => {
        impl<DB: Database> Type<DB> for $t
        where
            $column: Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <$column as Type<DB>>::type_info()
            }

            fn compatible(ty: &DB::TypeInfo) -> bool {
                <$column as Type<DB>>::compatible(ty)
            }
        }

        impl<'q, DB: Database> Encode<'q, DB> for $t
        where
            $bound: Encode<'q, DB>,
        {
            fn encode_by_ref(&self, buf: &mut DB::ArgumentBuffer) -> Result<IsNull, BoxDynError> {
                let encode: fn($t) -> $bound = $encode;
                encode(*self).encode(buf)
            }
        }

        impl<'r, DB: Database> Decode<'r, DB> for $t
        where
            $read: Decode<'r, DB>,
        {
            fn decode(value: DB::ValueRef<'r>) -> Result<Self, BoxDynError> {
                let stored = <$read as Decode<'r, DB>>::decode(value)?;
                let parse: fn($read) -> Option<$t> = $parse;
                parse(stored).ok_or_else(|| format!("unknown {} {stored:?}", stringify!($t)).into())
            }
        }
    };
}

stored_as!(RuleKind, str, &'static str, &'r str, RuleKind::as_str, RuleKind::parse);
stored_as!(ChannelKind, str, &'static str, &'r str, ChannelKind::as_str, ChannelKind::parse);
stored_as!(MessageKind, str, &'static str, &'r str, MessageKind::as_str, MessageKind::parse);
stored_as!(RoadType, str, &'static str, &'r str, RoadType::as_str, |s| Some(RoadType::from_db(s)));
stored_as!(ShortageKind, str, &'static str, &'r str, ShortageKind::as_str, |s| Some(ShortageKind::from_db(s)));
stored_as!(RunStatus, str, &'static str, &'r str, RunStatus::as_str, |s| s.parse().ok());
stored_as!(OutboxState, str, &'static str, &'r str, OutboxState::as_str, |s| s.parse().ok());
stored_as!(Trigger, str, &'static str, &'r str, Trigger::as_str, Trigger::parse);
stored_as!(FeedKind, str, &'static str, &'r str, FeedKind::as_str, |s| s.parse().ok());
// A fuel is stored as its feed id, a `SMALLINT` ([`Fuel::id`]).
stored_as!(Fuel, i16, i16, i16, Fuel::id, |id| Fuel::from_id(id.into()));
// A station id is its plain number, within the range [`StationId::new`] accepts.
stored_as!(StationId, i64, i64, i64, StationId::get, StationId::new);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Db;

    #[tokio::test]
    async fn stored_values_read_back_as_the_enums() {
        let Db::Sqlite(p) = Db::connect_without_migrating("sqlite::memory:").await.expect("database") else {
            unreachable!("a SQLite URL")
        };
        let row: (RuleKind, ChannelKind, MessageKind, RoadType, ShortageKind, Fuel) =
            sqlx::query_as("SELECT $1, $2, $3, $4, $5, $6")
                .bind(RuleKind::Cheapest)
                .bind(ChannelKind::Ntfy)
                .bind(MessageKind::Digest)
                .bind(RoadType::Motorway)
                .bind(ShortageKind::Permanent)
                .bind(Fuel::E10)
                .fetch_one(&p)
                .await
                .expect("round trip");
        let expected = (
            RuleKind::Cheapest,
            ChannelKind::Ntfy,
            MessageKind::Digest,
            RoadType::Motorway,
            ShortageKind::Permanent,
            Fuel::E10,
        );
        assert_eq!(row, expected);
        let stored: (String, i16) =
            sqlx::query_as("SELECT $1, $2").bind(RuleKind::Drop).bind(Fuel::GPLc).fetch_one(&p).await.expect("text");
        assert_eq!(stored, ("drop".to_owned(), 4));
        // A value no variant has is an error, not a guess.
        assert!(sqlx::query_as::<_, (RuleKind,)>("SELECT 'sometimes'").fetch_one(&p).await.is_err());
        assert!(sqlx::query_as::<_, (Fuel,)>("SELECT 9").fetch_one(&p).await.is_err());
    }
}
