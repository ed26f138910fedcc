//! The account pages' table ([`crate::text::account`]), and the wording of what is wrong with a
//! form field, including zxcvbn's password advice.

pub use crate::text::AccountStrings;

use crate::domain::{AccountInputError, Lang, MIN_PASSWORD_CHARS};
use crate::services::accounts::{Field, Problem};

pub fn strings(lang: Lang) -> &'static AccountStrings {
    lang.texts().account
}

/// What is wrong with a field, in words for the person who typed it.
pub fn problem_text(lang: Lang, field: Field, problem: &Problem) -> String {
    let t = strings(lang);
    match problem {
        Problem::Taken => match field {
            Field::Username => t.problem_username_taken.to_owned(),
            _ => t.problem_email_taken.to_owned(),
        },
        Problem::Mismatch => t.problem_passwords_differ.to_owned(),
        Problem::WrongPassword => t.problem_wrong_password.to_owned(),
        Problem::BadCode => t.problem_code_invalid.to_owned(),
        Problem::Input(e) => input_text(t, e),
    }
}

fn input_text(t: &AccountStrings, e: &AccountInputError) -> String {
    match e {
        AccountInputError::UsernameLength => t.problem_username_length.to_owned(),
        AccountInputError::UsernameChars => t.problem_username_chars.to_owned(),
        AccountInputError::DisplayNameLength => t.problem_display_name_length.to_owned(),
        AccountInputError::DisplayNameChars => t.problem_display_name_chars.to_owned(),
        AccountInputError::Email => t.problem_email_invalid.to_owned(),
        AccountInputError::PasswordTooShort => (t.problem_password_too_short)(MIN_PASSWORD_CHARS as u64),
        AccountInputError::PasswordTooLong => t.problem_password_too_long.to_owned(),
        AccountInputError::PasswordWeak(advice) => {
            let mut s = t.problem_password_weak.to_owned();
            for sentence in advice
                .warning
                .map(t.password_warning)
                .into_iter()
                .chain(advice.suggestions.iter().map(|sug| (t.password_suggestion)(*sug)))
            {
                s.push(' ');
                s.push_str(sentence);
            }
            s
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_password_advice_is_translated() {
        let e = crate::domain::NewPassword::parse("password123", &[]).expect_err("weak");
        let fr = problem_text(Lang::Fr, Field::Password, &Problem::Input(e.clone()));
        let en = problem_text(Lang::En, Field::Password, &Problem::Input(e));
        assert!(fr.starts_with("Ce mot de passe est trop facile à deviner."), "{fr}");
        assert!(fr.len() > 50, "advice included: {fr}");
        assert!(en.starts_with("This password is too easy to guess."), "{en}");
    }
}
