//! Authentication building blocks, independent of HTTP: password hashing ([`password`]), random
//! secrets and their stored digests ([`secret`]), and in-memory rate limits ([`rate_limit`]).
//! The account rules that tie them to the database live in [`crate::services::accounts`].

pub mod password;
pub mod rate_limit;
pub mod secret;
