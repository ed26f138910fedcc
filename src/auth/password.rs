//! argon2id password hashes, computed on the blocking pool (a hash costs ~20 ms of one core and
//! 19 MiB: on the async workers it would stall every other request).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::OnceLock;

use crate::domain::{NewPassword, Password};

/// OWASP's first argon2id setting: 19 MiB, 2 passes, 1 lane.
fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a new password into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
pub async fn hash(password: &NewPassword) -> anyhow::Result<String> {
    let pw = password.expose().to_owned();
    tokio::task::spawn_blocking(move || {
        let salt =
            SaltString::encode_b64(&rand::random::<[u8; 16]>()).map_err(|e| anyhow::anyhow!("password salt: {e}"))?;
        hasher()
            .hash_password(pw.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("password hash: {e}"))
    })
    .await?
}

/// A valid hash of a password nobody knows, so that checking a login for a user that does not
/// exist costs the same as for one that does (no timing oracle on usernames).
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>()).ok();
        salt.and_then(|s| hasher().hash_password(&rand::random::<[u8; 32]>(), &s).ok().map(|h| h.to_string()))
            .unwrap_or_default()
    })
}

/// Whether `password` matches `stored` (a PHC string). `stored: None` (no such user) runs a full
/// verification against a dummy hash and answers false. Parameters are read from the stored
/// string, so hashes made with older settings keep working.
pub async fn verify(password: &Password, stored: Option<&str>) -> anyhow::Result<bool> {
    let pw = password.expose().to_owned();
    let stored = stored.map(str::to_owned);
    tokio::task::spawn_blocking(move || {
        let (phc, real) = match &stored {
            Some(s) => (s.as_str(), true),
            None => (dummy_hash(), false),
        };
        let parsed = PasswordHash::new(phc).map_err(|e| anyhow::anyhow!("stored password hash unreadable: {e}"))?;
        let ok = Argon2::default().verify_password(pw.as_bytes(), &parsed).is_ok();
        Ok(ok && real)
    })
    .await?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn round_trip() {
        let pw = NewPassword::parse("plume cerise fenêtre 42", &[]).expect("strong");
        let h = hash(&pw).await.expect("hash");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify(&Password::new("plume cerise fenêtre 42"), Some(&h)).await.expect("verify"));
        assert!(!verify(&Password::new("plume cerise fenêtre 43"), Some(&h)).await.expect("verify"));
        // No user: false, after the same work.
        assert!(!verify(&Password::new("plume cerise fenêtre 42"), None).await.expect("verify"));
        // Two hashes of one password differ (salted).
        assert_ne!(h, hash(&pw).await.expect("hash"));
    }
}
