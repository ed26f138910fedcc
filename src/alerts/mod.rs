//! Price alerts and their delivery channels (issue 13). This branch carries Web Push
//! ([`push`]) and the SSRF rules every channel's target goes through ([`target`]).

pub mod push;
pub mod target;
