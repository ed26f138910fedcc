//! Route handlers, one module per area (the public pages by family: home, search, station,
//! demo, about, language switch).

pub mod about;
pub mod account;
pub mod admin;
pub mod api;
pub mod api_docs;
pub mod api_history;
pub mod api_route;
pub mod demo;
pub mod health;
pub mod home;
pub mod lang;
pub mod me;
pub mod route;
pub mod station;
pub mod stations;
pub mod trends;
