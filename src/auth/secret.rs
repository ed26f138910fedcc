//! Random secrets handed to a browser or an inbox (session ids, reset codes, confirmation
//! tokens) and the SHA-256 digests the database keeps instead of them.
//!
//! A digest without a salt is enough here, unlike for passwords: these secrets are random with
//! 60 to 256 bits, so there is no dictionary to try against a stolen table.

use sha2::{Digest, Sha256};

/// Crockford's base-32 alphabet: no I, L, O, U, so a code read from a phone is typed right.
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// 256 random bits as 64 hex characters: session ids and link tokens.
pub fn token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// A reset code of 12 base-32 characters (60 random bits) shown as `K7QF-M2XD-9PRT`.
pub fn reset_code() -> String {
    let bits = rand::random::<u64>() >> 4;
    let chars: Vec<u8> = (0..12).rev().map(|i| CROCKFORD[((bits >> (i * 5)) & 31) as usize]).collect();
    let s = String::from_utf8_lossy(&chars).into_owned();
    format!("{}-{}-{}", &s[0..4], &s[4..8], &s[8..12])
}

/// A typed code in its canonical form: upper case, separators and spaces dropped, the letters
/// people confuse with digits mapped the way Crockford's alphabet says (O→0, I/L→1).
pub fn normalize_code(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' ' | '\t'))
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        })
        .collect()
}

/// The digest stored for a secret: SHA-256, hex.
pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Compares two digests in time independent of where they differ.
pub fn same_digest(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        let c = reset_code();
        assert_eq!(c.len(), 14);
        assert_eq!(c.matches('-').count(), 2);
        assert!(normalize_code(&c).bytes().all(|b| CROCKFORD.contains(&b)));
        assert_ne!(reset_code(), reset_code());
        assert_eq!(normalize_code(" k7qf-m2xd o9lt"), "K7QFM2XD091T");
        assert_eq!(token().len(), 64);
        assert_eq!(digest("abc").len(), 64);
        assert!(same_digest(&digest("a"), &digest("a")));
        assert!(!same_digest(&digest("a"), &digest("b")));
    }
}
