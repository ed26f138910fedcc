//! Route handlers, one module per area.

pub mod api;
pub mod api_docs;
pub mod health;
pub mod pages;
