//! What people type into the account forms, parsed once: a [`Username`], a [`DisplayName`], an
//! [`EmailAddress`], a [`NewPassword`] strong enough to keep. Each `parse` says precisely what is
//! wrong ([`AccountInputError`]); the web layer words it in the visitor's language.

use std::fmt;

/// Passwords shorter than this are refused before any strength estimate.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longer input is refused: argon2 would hash it fine, but nobody types 1 KiB, and a cap keeps a
/// form post from making the server hash megabytes.
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// zxcvbn scores 0–4; 3 means "safely unguessable: moderate protection from offline slow-hash
/// attacks" (about 10^8 guesses and more).
pub const MIN_PASSWORD_SCORE: u8 = 3;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AccountInputError {
    #[error("username must be 3 to 32 characters")]
    UsernameLength,
    #[error("username may only hold letters a–z, digits, '.', '_' and '-', and start with a letter or digit")]
    UsernameChars,
    #[error("display name must be 1 to 60 characters")]
    DisplayNameLength,
    #[error("display name may not hold control characters")]
    DisplayNameChars,
    #[error("not an email address")]
    Email,
    #[error("password must be at least {MIN_PASSWORD_CHARS} characters")]
    PasswordTooShort,
    #[error("password is too long")]
    PasswordTooLong,
    #[error("password is too easy to guess")]
    PasswordWeak(PasswordAdvice),
}

/// Why zxcvbn finds a password guessable, and how to do better (its own typed feedback, which
/// the site translates).
#[derive(Debug, Clone, PartialEq)]
pub struct PasswordAdvice {
    pub score: u8,
    pub warning: Option<zxcvbn::feedback::Warning>,
    pub suggestions: Vec<zxcvbn::feedback::Suggestion>,
}

/// A login name: 3–32 of `a-z A-Z 0-9 . _ -`, starting with a letter or digit. Shown as typed;
/// compared without case ([`Username::key`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Username, AccountInputError> {
        let s = raw.trim();
        if !(3..=32).contains(&s.chars().count()) {
            return Err(AccountInputError::UsernameLength);
        }
        let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if !s.chars().all(ok_char) || !s.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err(AccountInputError::UsernameChars);
        }
        Ok(Username(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The unique, case-insensitive form stored in `users.username_key`.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The name shown on the dashboard: 1–60 characters, trimmed, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(raw: &str) -> Result<DisplayName, AccountInputError> {
        let s = raw.trim();
        if !(1..=60).contains(&s.chars().count()) {
            return Err(AccountInputError::DisplayNameLength);
        }
        if s.chars().any(char::is_control) {
            return Err(AccountInputError::DisplayNameChars);
        }
        Ok(DisplayName(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An email address that an SMTP server will take (checked by lettre's RFC 5321 parser, plus a
/// dot in the domain: `bob@localhost` is not an address a person reads mail at).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<EmailAddress, AccountInputError> {
        let s = raw.trim();
        if s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(AccountInputError::Email);
        }
        let addr: lettre::Address = s.parse().map_err(|_| AccountInputError::Email)?;
        let domain = addr.domain();
        if !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') {
            return Err(AccountInputError::Email);
        }
        Ok(EmailAddress(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The unique form stored in `users.email_key`. Lower-casing the local part is not what RFC
    /// 5321 says, but it is what every mail provider does, and it stops one person from holding
    /// two accounts as `Bob@` and `bob@`.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A password someone chose: long enough, not absurdly long, and judged hard to guess by zxcvbn
/// given what else the person told us (username, name, email). Never `Debug`-printed.
#[derive(Clone)]
pub struct NewPassword(String);

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword(***)")
    }
}

impl NewPassword {
    /// `context`: strings the password must not be built from (username, display name, email
    /// and its local part).
    pub fn parse(raw: &str, context: &[&str]) -> Result<NewPassword, AccountInputError> {
        if raw.len() > MAX_PASSWORD_BYTES {
            return Err(AccountInputError::PasswordTooLong);
        }
        if raw.chars().count() < MIN_PASSWORD_CHARS {
            return Err(AccountInputError::PasswordTooShort);
        }
        let mut inputs: Vec<&str> = context.iter().copied().filter(|s| !s.is_empty()).collect();
        inputs.extend(context.iter().filter_map(|s| s.split_once('@').map(|(local, _)| local)));
        inputs.extend(["carburoam", "carburant", "essence", "gazole"]);
        let entropy = zxcvbn::zxcvbn(raw, &inputs);
        let score = u8::from(entropy.score());
        if score < MIN_PASSWORD_SCORE {
            let (warning, suggestions) = entropy
                .feedback()
                .map(|f| (f.warning(), f.suggestions().to_vec()))
                .unwrap_or((None, vec![zxcvbn::feedback::Suggestion::AddAnotherWordOrTwo]));
            return Err(AccountInputError::PasswordWeak(PasswordAdvice { score, warning, suggestions }));
        }
        Ok(NewPassword(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// A password typed to log in or confirm an action: only capped in size, never judged.
#[derive(Clone)]
pub struct Password(String);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

impl Password {
    pub fn new(raw: &str) -> Password {
        // An over-long input cannot be a stored password (NewPassword refuses them); truncating
        // keeps hashing bounded and still fails verification.
        let mut end = raw.len().min(MAX_PASSWORD_BYTES + 1);
        while !raw.is_char_boundary(end) {
            end -= 1;
        }
        Password(raw[..end].to_owned())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert_eq!(Username::parse("  Alice_77 ").map(|u| u.key()), Ok("alice_77".into()));
        assert_eq!(Username::parse("al"), Err(AccountInputError::UsernameLength));
        assert_eq!(Username::parse(&"a".repeat(33)), Err(AccountInputError::UsernameLength));
        assert_eq!(Username::parse("_alice"), Err(AccountInputError::UsernameChars));
        assert_eq!(Username::parse("al ice"), Err(AccountInputError::UsernameChars));
        assert_eq!(Username::parse("élise"), Err(AccountInputError::UsernameChars));
    }

    #[test]
    fn display_names() {
        assert_eq!(DisplayName::parse(" Élise Dupré ").map(|d| d.as_str().to_owned()), Ok("Élise Dupré".into()));
        assert_eq!(DisplayName::parse("   "), Err(AccountInputError::DisplayNameLength));
        assert_eq!(DisplayName::parse("a\u{7}b"), Err(AccountInputError::DisplayNameChars));
    }

    #[test]
    fn emails() {
        assert_eq!(EmailAddress::parse(" Bob@Example.org ").map(|e| e.key()), Ok("bob@example.org".into()));
        for bad in ["bob", "bob@", "@example.org", "bob@localhost", "bob @example.org", "bob@example.org."] {
            assert_eq!(EmailAddress::parse(bad), Err(AccountInputError::Email), "{bad}");
        }
    }

    #[test]
    fn passwords() {
        assert_eq!(NewPassword::parse("short", &[]).err(), Some(AccountInputError::PasswordTooShort));
        assert_eq!(NewPassword::parse(&"x".repeat(2000), &[]).err(), Some(AccountInputError::PasswordTooLong));
        match NewPassword::parse("password123", &[]) {
            Err(AccountInputError::PasswordWeak(a)) => {
                assert!(a.score < MIN_PASSWORD_SCORE);
                assert!(a.warning.is_some() || !a.suggestions.is_empty());
            }
            other => panic!("password123 accepted: {other:?}"),
        }
        // Built from the username: weak even though long.
        assert!(matches!(
            NewPassword::parse("marcel.dupont2024", &["marcel.dupont", "marcel.dupont@example.org"]),
            Err(AccountInputError::PasswordWeak(_))
        ));
        assert!(NewPassword::parse("plume cerise fenêtre 42", &["alice"]).is_ok());
        assert_eq!(format!("{:?}", Password::new("hunter2hunter2")), "Password(***)");
        assert_eq!(Password::new(&"é".repeat(1000)).expose().len(), 1024);
    }
}
