//! The application state now lives in the web layer ([`crate::web::state`]); this re-export
//! keeps `carburoam::state::…` working for tests written against the old path. Nothing in the
//! crate itself goes through it (that would be a circle: web → state → web).

pub use crate::web::state::{AppState, EtlHandle, SiteConfig};
