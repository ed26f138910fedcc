//! The kinds of the price alerts: what a rule watches, where a message goes, what a message is.
//! Each is stored as its `as_str` text (`alert_rules.kind`, `alert_channels.kind`,
//! `alert_messages.kind`); `db::types` binds and reads them as such.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What a rule watches.
/// Serialized (in a message's payload) as its `as_str` text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleKind {
    /// A price at or below a threshold (the form's first choice, so the default).
    #[default]
    Threshold,
    /// A drop of at least so many cents.
    Drop,
    /// The followed station becoming the cheapest around.
    Cheapest,
    /// A weekly summary.
    Digest,
}

impl RuleKind {
    pub const ALL: [RuleKind; 4] = [RuleKind::Threshold, RuleKind::Drop, RuleKind::Cheapest, RuleKind::Digest];

    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::Threshold => "threshold",
            RuleKind::Drop => "drop",
            RuleKind::Cheapest => "cheapest",
            RuleKind::Digest => "digest",
        }
    }

    /// The stored or posted text (surrounding spaces ignored).
    pub fn parse(s: &str) -> Option<RuleKind> {
        RuleKind::ALL.into_iter().find(|k| k.as_str() == s.trim())
    }
}

/// Where alert messages go: one channel of each kind per user. Serialized as its `as_str` text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    Email,
    Ntfy,
    Push,
}

impl ChannelKind {
    pub const ALL: [ChannelKind; 3] = [ChannelKind::Email, ChannelKind::Ntfy, ChannelKind::Push];

    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Email => "email",
            ChannelKind::Ntfy => "ntfy",
            ChannelKind::Push => "push",
        }
    }

    pub fn parse(s: &str) -> Option<ChannelKind> {
        ChannelKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// What an alert message is: triggered rules, a digest, or a test a user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    Alert,
    Digest,
    Test,
}

impl MessageKind {
    pub const ALL: [MessageKind; 3] = [MessageKind::Alert, MessageKind::Digest, MessageKind::Test];

    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Alert => "alert",
            MessageKind::Digest => "digest",
            MessageKind::Test => "test",
        }
    }

    pub fn parse(s: &str) -> Option<MessageKind> {
        MessageKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

macro_rules! display_as_str {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    )*};
}
display_as_str!(RuleKind, ChannelKind, MessageKind);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_text() {
        for k in RuleKind::ALL {
            assert_eq!(RuleKind::parse(k.as_str()), Some(k));
        }
        for k in ChannelKind::ALL {
            assert_eq!(ChannelKind::parse(k.as_str()), Some(k));
        }
        for k in MessageKind::ALL {
            assert_eq!(MessageKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(RuleKind::parse(" drop "), Some(RuleKind::Drop));
        assert_eq!(ChannelKind::parse("sms"), None);
    }
}
