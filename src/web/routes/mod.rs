//! Route handlers, one module per area.

pub mod account;
pub mod admin;
pub mod api;
pub mod api_docs;
pub mod health;
pub mod me;
pub mod pages;
