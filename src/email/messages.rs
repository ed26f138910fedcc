//! Every email Carburoam sends, in French and English (the sentences are in [`crate::text::email`]).
//!
//! Each message is written once as a list of [`Block`]s, then rendered twice: as plain text and as
//! HTML. The two parts of a message therefore cannot say different things, and the HTML renderer
//! is the only place that has to think about escaping: it escapes *everything* it prints, static
//! text included, so no value a user chose (a display name, an address) can inject markup.
//!
//! The HTML is deliberately plain: one column, inline styles (mail clients ignore the site's CSS
//! and most of `<style>`), no images, readable on a phone.

use std::fmt;

use crate::domain::Lang;
use crate::text::EmailStrings;

/// One email, ready to be rendered in its language.
#[derive(Clone)]
pub struct Email {
    pub lang: Lang,
    pub kind: EmailKind,
}

/// Every email Carburoam sends.
#[derive(Clone)]
pub enum EmailKind {
    /// Forgot password: the one-time code (e.g. `K7QF-M2XD-9PRT`), shown prominently, and the reset
    /// link that carries it, for people who would rather click than type.
    PasswordReset { username: String, code: String, link: String, valid_minutes: u32 },
    /// Forgot username: every username registered with the address, and a login link.
    UsernameReminder { usernames: Vec<String>, login_link: String },
    /// Proves that the person who typed a new address can read it before it is attached to an account.
    ConfirmEmail { display_name: String, link: String, valid_hours: u32 },
    /// Tells the owner that something important changed on the account, so that a change they did
    /// not make does not go unnoticed (sent to the *old* address when the address changed).
    SecurityNotice { display_name: String, what: SecurityEvent },
    /// To the current address when a change to `new_address` is asked for, with a link that
    /// cancels it (and ends every session).
    EmailChangeRequested { display_name: String, new_address: String, cancel_link: String, valid_hours: u32 },
    /// To the owner of an address someone tried to register with, or to move to another account.
    AddressInUse { username: String, login_link: String, reset_link: String },
    /// A price alert, a weekly digest or a notice about alerts: the sentences are written by the
    /// alerts service (from [`crate::text::alerts`]), this only lays them out.
    Alert {
        name: &'static str,
        subject: String,
        paragraphs: Vec<String>,
        button: Option<(String, String)>,
        notes: Vec<String>,
    },
}

/// What a [`EmailKind::SecurityNotice`] warns about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecurityEvent {
    PasswordChanged,
    EmailChanged { new_address: String },
    AccountDeleted,
}

impl EmailKind {
    /// A short stable name for logs and outbox file names. Never holds a code or an address.
    pub fn name(&self) -> &'static str {
        match self {
            EmailKind::PasswordReset { .. } => "password-reset",
            EmailKind::UsernameReminder { .. } => "username-reminder",
            EmailKind::ConfirmEmail { .. } => "confirm-email",
            EmailKind::SecurityNotice { what: SecurityEvent::PasswordChanged, .. } => "password-changed",
            EmailKind::SecurityNotice { what: SecurityEvent::EmailChanged { .. }, .. } => "email-changed",
            EmailKind::SecurityNotice { what: SecurityEvent::AccountDeleted, .. } => "account-deleted",
            EmailKind::EmailChangeRequested { .. } => "email-change-requested",
            EmailKind::AddressInUse { .. } => "address-in-use",
            EmailKind::Alert { name, .. } => name,
        }
    }
}

/// Only the kind and the language: a derived `Debug` would print reset codes and links into logs.
impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Email").field("lang", &self.lang).field("kind", &self.kind.name()).finish_non_exhaustive()
    }
}

impl fmt::Debug for EmailKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Email {
    pub fn subject(&self) -> String {
        self.content().subject
    }

    pub fn text(&self) -> String {
        let content = self.content();
        let colon = self.texts().colon;
        let mut out = String::new();
        for block in &content.blocks {
            match block {
                Block::Para(s) | Block::Note(s) => out.push_str(s),
                Block::Code(code) => {
                    out.push_str("    ");
                    out.push_str(code);
                }
                Block::Button { label, url } => {
                    out.push_str(&format!("{label}{colon}\n{url}"));
                }
                Block::List(items) => {
                    let lines: Vec<String> = items.iter().map(|item| format!("  - {item}")).collect();
                    out.push_str(&lines.join("\n"));
                }
            }
            out.push_str("\n\n");
        }
        // "-- " is the conventional signature separator: clients grey out or fold what follows.
        out.push_str("-- \n");
        out.push_str(self.texts().footer);
        out.push('\n');
        out
    }

    pub fn html(&self) -> String {
        let content = self.content();
        let mut body = String::new();
        for block in &content.blocks {
            match block {
                Block::Para(s) => {
                    body.push_str(&format!("<p style=\"margin:0 0 16px;\">{}</p>\n", escape(s)));
                }
                Block::Note(s) => {
                    body.push_str(&format!(
                        "<p style=\"margin:0 0 16px;font-size:14px;color:{MUTED};\">{}</p>\n",
                        escape(s)
                    ));
                }
                Block::Code(code) => {
                    body.push_str(&format!(
                        "<p style=\"margin:0 0 16px;text-align:center;\"><span style=\"display:inline-block;\
                         font-family:ui-monospace,'SFMono-Regular',Menlo,Consolas,'Liberation Mono',monospace;\
                         font-size:22px;font-weight:bold;letter-spacing:2px;color:{FG};background-color:{BG};\
                         border:1px solid {LINE};border-radius:6px;padding:10px 14px;\">{}</span></p>\n",
                        escape(code)
                    ));
                }
                Block::Button { label, url } => {
                    body.push_str(&button(self.texts(), label, url));
                }
                Block::List(items) => {
                    body.push_str("<ul style=\"margin:0 0 16px;padding-left:24px;\">\n");
                    for item in items {
                        body.push_str(&format!(
                            "<li style=\"margin:0 0 4px;\"><strong style=\"font-family:ui-monospace,Menlo,\
                             Consolas,monospace;\">{}</strong></li>\n",
                            escape(item)
                        ));
                    }
                    body.push_str("</ul>\n");
                }
            }
        }
        format!(
            "<!DOCTYPE html>\n\
             <html lang=\"{lang}\">\n\
             <head>\n\
             <meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>{title}</title>\n\
             </head>\n\
             <body style=\"margin:0;padding:0;background-color:{BG};\">\n\
             <div style=\"max-width:560px;margin:0 auto;padding:24px 12px;font-family:-apple-system,\
             BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;font-size:16px;line-height:1.5;\
             color:{FG};\">\n\
             <p style=\"margin:0 0 12px;font-size:20px;font-weight:bold;color:{ACCENT};\">Carburoam</p>\n\
             <div style=\"background-color:#ffffff;border:1px solid {LINE};border-radius:8px;padding:24px 20px;\">\n\
             {body}\
             </div>\n\
             <p style=\"margin:16px 0 0;font-size:12px;color:{MUTED};text-align:center;\">{footer}</p>\n\
             </div>\n\
             </body>\n\
             </html>\n",
            lang = self.lang.code(),
            title = escape(&content.subject),
            footer = escape(self.texts().footer),
        )
    }

    fn texts(&self) -> &'static EmailStrings {
        self.lang.texts().email
    }

    fn content(&self) -> Content {
        content(self.texts(), &self.kind)
    }
}

// The site's palette (static/css/site.css, light theme).
const BG: &str = "#f7f7f5";
const FG: &str = "#17201c";
const MUTED: &str = "#4f5b55";
const LINE: &str = "#d9ded9";
const ACCENT: &str = "#0b6e4f";
const LINK: &str = "#0a5c8a";

struct Content {
    subject: String,
    blocks: Vec<Block>,
}

enum Block {
    Para(String),
    /// Secondary text: what to do when the message was not expected.
    Note(String),
    /// A one-time code, to be read and typed.
    Code(String),
    /// A link: a button in HTML, followed by the address itself for clients that mangle buttons.
    Button {
        label: String,
        url: String,
    },
    /// Usernames.
    List(Vec<String>),
}

use Block::*;

fn content(t: &EmailStrings, kind: &EmailKind) -> Content {
    match kind {
        EmailKind::PasswordReset { username, code, link, valid_minutes } => Content {
            subject: t.reset_subject.into(),
            blocks: vec![
                Para(hello(t, username)),
                Para(t.reset_intro.into()),
                Code(code.clone()),
                Para(t.reset_how.into()),
                Button { label: t.reset_button.into(), url: link.clone() },
                Para((t.reset_valid)((*valid_minutes).into())),
                Note(t.reset_not_you.into()),
            ],
        },
        EmailKind::UsernameReminder { usernames, login_link } => {
            let n = usernames.len() as u64;
            Content {
                subject: (t.reminder_subject)(n).into(),
                blocks: vec![
                    Para(t.hello.into()),
                    Para((t.reminder_intro)(n).into()),
                    List(usernames.clone()),
                    Button { label: t.reminder_button.into(), url: login_link.clone() },
                    Note(t.reminder_not_you.into()),
                ],
            }
        }
        EmailKind::ConfirmEmail { display_name, link, valid_hours } => Content {
            subject: t.confirm_subject.into(),
            blocks: vec![
                Para(hello(t, display_name)),
                Para(t.confirm_intro.into()),
                Button { label: t.confirm_button.into(), url: link.clone() },
                Para((t.confirm_valid)((*valid_hours).into())),
                Note(t.confirm_not_you.into()),
            ],
        },
        EmailKind::EmailChangeRequested { display_name, new_address, cancel_link, valid_hours } => Content {
            subject: t.change_requested_subject.into(),
            blocks: vec![
                Para(hello(t, display_name)),
                Para((t.change_requested_what)(new_address)),
                Para(t.notice_if_you.into()),
                Para((t.change_requested_not_you)((*valid_hours).into())),
                Button { label: t.change_requested_button.into(), url: cancel_link.clone() },
            ],
        },
        EmailKind::AddressInUse { username, login_link, reset_link } => Content {
            subject: t.address_in_use_subject.into(),
            blocks: vec![
                Para(hello(t, username)),
                Para(t.address_in_use_what.into()),
                Para(t.address_in_use_if_you.into()),
                Button { label: t.reminder_button.into(), url: login_link.clone() },
                Button { label: t.address_in_use_forgot.into(), url: reset_link.clone() },
                Note(t.address_in_use_otherwise.into()),
            ],
        },
        EmailKind::Alert { subject, paragraphs, button, notes, .. } => {
            let mut blocks: Vec<Block> = paragraphs.iter().cloned().map(Para).collect();
            if let Some((label, url)) = button {
                blocks.push(Button { label: label.clone(), url: url.clone() });
            }
            blocks.extend(notes.iter().cloned().map(Note));
            Content { subject: subject.clone(), blocks }
        }
        EmailKind::SecurityNotice { display_name, what } => {
            let (subject, what_happened, if_not_you) = match what {
                SecurityEvent::PasswordChanged => {
                    (t.password_changed_subject, t.password_changed_what.to_owned(), t.password_changed_not_you)
                }
                SecurityEvent::EmailChanged { new_address } => {
                    (t.email_changed_subject, (t.email_changed_what)(new_address), t.email_changed_not_you)
                }
                SecurityEvent::AccountDeleted => (t.deleted_subject, t.deleted_what.to_owned(), t.deleted_not_you),
            };
            Content {
                subject: subject.into(),
                blocks: vec![
                    Para(hello(t, display_name)),
                    Para(what_happened),
                    Para(t.notice_if_you.into()),
                    Para(if_not_you.into()),
                ],
            }
        }
    }
}

fn hello(t: &EmailStrings, name: &str) -> String {
    let name = name.trim();
    if name.is_empty() { t.hello.into() } else { (t.hello_name)(name) }
}

/// A button, then the address in clear for clients that strip buttons (and for copy and paste).
/// Only `http(s)` addresses become links: the URL is built by the application, but a `javascript:`
/// one would be a disaster, so anything else is shown as text.
fn button(t: &EmailStrings, label: &str, url: &str) -> String {
    let (label, url_text) = (escape(label), escape(url));
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return format!(
            "<p style=\"margin:0 0 16px;\">{label}{}<br><span style=\"word-break:break-all;\">{url_text}</span></p>\n",
            t.colon
        );
    }
    format!(
        "<p style=\"margin:8px 0 16px;\"><a href=\"{url_text}\" style=\"display:inline-block;\
         background-color:{ACCENT};color:#ffffff;text-decoration:none;font-weight:bold;padding:12px 20px;\
         border-radius:6px;\">{label}</a></p>\n\
         <p style=\"margin:0 0 16px;font-size:13px;color:{MUTED};\">{}<br>\
         <a href=\"{url_text}\" style=\"color:{LINK};word-break:break-all;\">{url_text}</a></p>\n",
        escape(t.button_fallback)
    )
}

/// Escapes for both element content and double- or single-quoted attribute values.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reset(lang: Lang) -> Email {
        Email {
            lang,
            kind: EmailKind::PasswordReset {
                username: "alice".into(),
                code: "K7QF-M2XD-9PRT".into(),
                link: "https://carburoam.example/reset?code=K7QF-M2XD-9PRT".into(),
                valid_minutes: 30,
            },
        }
    }

    fn all_kinds() -> Vec<EmailKind> {
        vec![
            reset(Lang::Fr).kind,
            EmailKind::UsernameReminder {
                usernames: vec!["alice".into()],
                login_link: "https://x.example/login".into(),
            },
            EmailKind::UsernameReminder {
                usernames: vec!["alice".into(), "bob".into()],
                login_link: "https://x.example/login".into(),
            },
            EmailKind::ConfirmEmail {
                display_name: "Zoé".into(),
                link: "https://x.example/confirm?t=abc".into(),
                valid_hours: 24,
            },
            EmailKind::SecurityNotice { display_name: "Zoé".into(), what: SecurityEvent::PasswordChanged },
            EmailKind::SecurityNotice {
                display_name: "Zoé".into(),
                what: SecurityEvent::EmailChanged { new_address: "new@example.org".into() },
            },
            EmailKind::SecurityNotice { display_name: "Zoé".into(), what: SecurityEvent::AccountDeleted },
        ]
    }

    #[test]
    fn password_reset_in_french() {
        let email = reset(Lang::Fr);
        assert_eq!(email.subject(), "Carburoam : votre code de réinitialisation");
        let text = email.text();
        assert!(text.starts_with("Bonjour alice,\n\n"), "{text}");
        assert!(text.contains("\n    K7QF-M2XD-9PRT\n"), "{text}");
        assert!(
            text.contains("Choisir un nouveau mot de passe :\nhttps://carburoam.example/reset?code=K7QF-M2XD-9PRT\n")
        );
        assert!(text.contains("valables 30 minutes"), "{text}");
        assert!(text.contains("ignorez ce message : votre mot de passe reste inchangé."), "{text}");
        let html = email.html();
        assert!(html.contains("<html lang=\"fr\">"));
        assert!(html.contains("monospace"));
        assert!(html.contains(">K7QF-M2XD-9PRT</span>"));
        assert!(html.contains("href=\"https://carburoam.example/reset?code=K7QF-M2XD-9PRT\""));
    }

    #[test]
    fn password_reset_in_english() {
        let email = reset(Lang::En);
        assert_eq!(email.subject(), "Carburoam: your password reset code");
        let text = email.text();
        assert!(text.starts_with("Hello alice,\n\n"), "{text}");
        assert!(text.contains("valid for 30 minutes"));
        assert!(text.contains("If you did not ask for this, ignore this message: your password is unchanged."));
        assert!(text.contains("Choose a new password:\nhttps://carburoam.example/reset?code=K7QF-M2XD-9PRT\n"));
        assert!(email.html().contains("<html lang=\"en\">"));
    }

    #[test]
    fn plurals_follow_each_language() {
        let valid = |lang: Lang, n| (lang.texts().email.confirm_valid)(n);
        assert_eq!(valid(Lang::Fr, 1), "Ce lien est valable 1 heure.");
        assert_eq!(valid(Lang::Fr, 0), "Ce lien est valable 0 heure.");
        assert_eq!(valid(Lang::En, 0), "This link is valid for 0 hours.");
        assert_eq!(valid(Lang::Fr, 24), "Ce lien est valable 24 heures.");
        assert_eq!(valid(Lang::En, 1), "This link is valid for 1 hour.");
        let one = Email {
            lang: Lang::Fr,
            kind: EmailKind::UsernameReminder { usernames: vec!["a".into()], login_link: "https://x/l".into() },
        };
        assert_eq!(one.subject(), "Carburoam : votre identifiant");
        let two = Email {
            lang: Lang::En,
            kind: EmailKind::UsernameReminder {
                usernames: vec!["a".into(), "b".into()],
                login_link: "https://x/l".into(),
            },
        };
        assert_eq!(two.subject(), "Carburoam: your usernames");
        assert!(two.text().contains("  - a\n  - b\n"));
    }

    #[test]
    fn every_value_is_escaped_in_html() {
        let evil = "<b>&\"'";
        let kinds = [
            EmailKind::ConfirmEmail {
                display_name: evil.into(),
                link: "https://x/?a=1&b=\"2\"".into(),
                valid_hours: 1,
            },
            EmailKind::SecurityNotice {
                display_name: evil.into(),
                what: SecurityEvent::EmailChanged { new_address: "<script>@x".into() },
            },
            EmailKind::UsernameReminder { usernames: vec![evil.into()], login_link: "https://x/l".into() },
        ];
        for kind in kinds {
            for lang in [Lang::Fr, Lang::En] {
                let html = Email { lang, kind: kind.clone() }.html();
                assert!(!html.contains("<b>"), "{html}");
                assert!(!html.contains("<script>"), "{html}");
                assert!(!html.contains("b=\"2\""), "{html}");
                assert!(html.contains("&lt;b&gt;&amp;&quot;&#39;"), "{html}");
            }
        }
        let confirm = Email {
            lang: Lang::En,
            kind: EmailKind::ConfirmEmail { display_name: evil.into(), link: "x".into(), valid_hours: 2 },
        };
        // The plain-text part shows the name as typed.
        assert!(confirm.text().starts_with("Hello <b>&\"',\n"));
    }

    #[test]
    fn only_web_links_become_links() {
        let email = Email {
            lang: Lang::En,
            kind: EmailKind::ConfirmEmail {
                display_name: "a".into(),
                link: "javascript:alert(1)".into(),
                valid_hours: 1,
            },
        };
        let html = email.html();
        assert!(!html.contains("href=\"javascript"), "{html}");
        assert!(html.contains("javascript:alert(1)"));
    }

    #[test]
    fn every_kind_renders_in_both_languages() {
        for kind in all_kinds() {
            let fr = Email { lang: Lang::Fr, kind: kind.clone() };
            let en = Email { lang: Lang::En, kind };
            assert!(fr.subject().starts_with("Carburoam : "), "{}", fr.subject());
            assert!(en.subject().starts_with("Carburoam: "), "{}", en.subject());
            assert_ne!(fr.text(), en.text());
            for email in [&fr, &en] {
                let (text, html) = (email.text(), email.html());
                assert!(text.ends_with(&format!("-- \n{}\n", email.texts().footer)));
                assert!(!text.contains('<'), "{text}");
                assert!(html.starts_with("<!DOCTYPE html>") && html.ends_with("</html>\n"));
                assert!(html.contains(&escape(&email.subject())));
            }
        }
    }

    #[test]
    fn security_notices_say_what_happened() {
        let notice = |lang, what| Email { lang, kind: EmailKind::SecurityNotice { display_name: "Zoé".into(), what } };
        let changed = notice(Lang::Fr, SecurityEvent::EmailChanged { new_address: "nouvelle@example.org".into() });
        assert_eq!(changed.subject(), "Carburoam : l'adresse e-mail de votre compte a été modifiée");
        assert!(changed.text().contains("remplacée par nouvelle@example.org."));
        assert!(changed.text().starts_with("Bonjour Zoé,"));
        assert_eq!(notice(Lang::En, SecurityEvent::PasswordChanged).subject(), "Carburoam: your password was changed");
        assert_eq!(
            notice(Lang::Fr, SecurityEvent::AccountDeleted).subject(),
            "Carburoam : votre compte a été supprimé"
        );
    }

    #[test]
    fn debug_hides_codes() {
        let debug = format!("{:?}", reset(Lang::En));
        assert!(!debug.contains("K7QF"), "{debug}");
        assert!(debug.contains("password-reset"));
    }

    #[test]
    fn blank_names_get_a_plain_greeting() {
        assert_eq!(hello(Lang::Fr.texts().email, "  "), "Bonjour,");
        assert_eq!(hello(Lang::En.texts().email, ""), "Hello,");
        assert_eq!(hello(Lang::En.texts().email, " Zoé "), "Hello Zoé,");
    }
}
