//! The services: what the application does with accounts, the console's actions, the periodic
//! cleaning and the operator's notifications, between the web layer above and the database below.

pub mod accounts;
pub mod admin;
pub mod cleanup;
pub mod notify;
