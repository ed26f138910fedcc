//! The process-wide rustls crypto provider.
//!
//! reqwest is built with `rustls-no-provider`: its clients use the provider installed for the
//! process. The program installs ring once, in `main` ([`install_provider`]); the integration
//! tests do the same in their helper. Library constructors only check ([`require_provider`]) so
//! that a caller who forgot gets an error instead of reqwest's panic.

/// Installs ring as the process's rustls provider. Idempotent: a second call (or a provider
/// installed by someone else) is fine.
pub fn install_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// `Err` with an explanation when no provider is installed yet.
pub fn require_provider() -> Result<(), String> {
    match rustls::crypto::CryptoProvider::get_default() {
        Some(_) => Ok(()),
        None => Err("no rustls crypto provider is installed (call carburoam::tls::install_provider() first)".into()),
    }
}
