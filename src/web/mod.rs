//! HTTP: router, extractors, routes.
