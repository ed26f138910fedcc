//! The texts of every email Carburoam sends, in French and English.
//!
//! Each message is written once as a list of [`Block`]s, then rendered twice: as plain text and as
//! HTML. The two parts of a message therefore cannot say different things, and the HTML renderer
//! is the only place that has to think about escaping: it escapes *everything* it prints, static
//! text included, so no value a user chose (a display name, an address) can inject markup.
//!
//! The HTML is deliberately plain: one column, inline styles (mail clients ignore the site's CSS
//! and most of `<style>`), no images, readable on a phone.

use std::fmt;

use crate::web::i18n::Lang;

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
        let colon = colon(self.lang);
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
        out.push_str(footer(self.lang));
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
                    body.push_str(&button(self.lang, label, url));
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
            footer = escape(footer(self.lang)),
        )
    }

    fn content(&self) -> Content {
        match self.lang {
            Lang::Fr => french(&self.kind),
            Lang::En => english(&self.kind),
        }
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

fn french(kind: &EmailKind) -> Content {
    const NOT_YOU: &str = "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message";
    match kind {
        EmailKind::PasswordReset { username, code, link, valid_minutes } => {
            Content {
                subject: "Carburoam : votre code de réinitialisation".into(),
                blocks: vec![
                Para(hello(Lang::Fr, username)),
                Para("Vous avez demandé à réinitialiser le mot de passe de votre compte Carburoam. Voici votre code :"
                    .into()),
                Code(code.clone()),
                Para("Saisissez-le sur la page de réinitialisation, ou utilisez le lien ci-dessous.".into()),
                Button { label: "Choisir un nouveau mot de passe".into(), url: link.clone() },
                Para(format!(
                    "Ce code et ce lien sont valables {}. Ne les communiquez à personne.",
                    minutes(Lang::Fr, *valid_minutes)
                )),
                Note(format!("{NOT_YOU} : votre mot de passe reste inchangé.")),
            ],
            }
        }
        EmailKind::UsernameReminder { usernames, login_link } => {
            let several = usernames.len() > 1;
            Content {
                subject: if several { "Carburoam : vos identifiants" } else { "Carburoam : votre identifiant" }.into(),
                blocks: vec![
                    Para("Bonjour,".into()),
                    Para(if several {
                        "Voici les identifiants des comptes Carburoam associés à cette adresse e-mail :".into()
                    } else {
                        "Voici l'identifiant du compte Carburoam associé à cette adresse e-mail :".into()
                    }),
                    List(usernames.clone()),
                    Button { label: "Se connecter".into(), url: login_link.clone() },
                    Note(format!("{NOT_YOU} : rien n'a été modifié.")),
                ],
            }
        }
        EmailKind::ConfirmEmail { display_name, link, valid_hours } => Content {
            subject: "Carburoam : confirmez votre adresse e-mail".into(),
            blocks: vec![
                Para(hello(Lang::Fr, display_name)),
                Para(
                    "Pour associer cette adresse e-mail à votre compte Carburoam, confirmez-la avec le lien \
                      ci-dessous."
                        .into(),
                ),
                Button { label: "Confirmer mon adresse".into(), url: link.clone() },
                Para(format!("Ce lien est valable {}.", hours(Lang::Fr, *valid_hours))),
                Note(format!("{NOT_YOU} : cette adresse ne sera associée à aucun compte.")),
            ],
        },
        EmailKind::EmailChangeRequested { display_name, new_address, cancel_link, valid_hours } => Content {
            subject: "Carburoam : changement d'adresse e-mail demandé".into(),
            blocks: vec![
                Para(hello(Lang::Fr, display_name)),
                Para(format!(
                    "Quelqu'un connecté à votre compte Carburoam a demandé à remplacer cette adresse par \
                     {new_address}. Rien ne change tant que le lien envoyé à la nouvelle adresse n'est pas suivi."
                )),
                Para("Si c'est vous, vous n'avez rien à faire.".into()),
                Para(format!(
                    "Si ce n'est pas vous, annulez ce changement (le lien est valable {}) : toutes les sessions \
                     de votre compte seront fermées. Changez ensuite votre mot de passe avec «\u{a0}Mot de passe \
                     oublié\u{a0}».",
                    hours(Lang::Fr, *valid_hours)
                )),
                Button { label: "Annuler le changement".into(), url: cancel_link.clone() },
            ],
        },
        EmailKind::AddressInUse { username, login_link, reset_link } => Content {
            subject: "Carburoam : votre adresse e-mail a été proposée pour un autre compte".into(),
            blocks: vec![
                Para(hello(Lang::Fr, username)),
                Para(
                    "Quelqu'un vient de proposer cette adresse e-mail pour créer un compte Carburoam, ou pour \
                     un autre compte. Elle est déjà celle de votre compte : rien n'a été modifié."
                        .into(),
                ),
                Para("Si c'est vous, connectez-vous avec votre compte existant :".into()),
                Button { label: "Se connecter".into(), url: login_link.clone() },
                Button { label: "Mot de passe oublié".into(), url: reset_link.clone() },
                Note("Sinon, ignorez ce message.".into()),
            ],
        },
        EmailKind::SecurityNotice { display_name, what } => {
            let (subject, what_happened, if_not_you) = match what {
                SecurityEvent::PasswordChanged => (
                    "Carburoam : votre mot de passe a été modifié",
                    "Le mot de passe de votre compte Carburoam vient d'être modifié.".to_string(),
                    "Si ce n'est pas vous, quelqu'un d'autre connaît peut-être votre mot de passe : \
                     réinitialisez-le sans attendre avec «\u{a0}Mot de passe oublié\u{a0}» sur la page de \
                     connexion.",
                ),
                SecurityEvent::EmailChanged { new_address } => (
                    "Carburoam : l'adresse e-mail de votre compte a été modifiée",
                    format!(
                        "L'adresse e-mail de votre compte Carburoam a été remplacée par {new_address}. \
                         Ce message est envoyé à l'ancienne adresse pour vous prévenir."
                    ),
                    "Si ce n'est pas vous, quelqu'un d'autre a peut-être accès à votre compte : connectez-vous, \
                     changez votre mot de passe et rétablissez votre adresse. Si vous ne pouvez plus vous \
                     connecter, contactez l'administrateur de ce site.",
                ),
                SecurityEvent::AccountDeleted => (
                    "Carburoam : votre compte a été supprimé",
                    "Votre compte Carburoam a été supprimé. Merci de l'avoir utilisé.".to_string(),
                    "Si ce n'est pas vous, contactez sans attendre l'administrateur de ce site.",
                ),
            };
            Content {
                subject: subject.into(),
                blocks: vec![
                    Para(hello(Lang::Fr, display_name)),
                    Para(what_happened),
                    Para("Si c'est vous, vous n'avez rien à faire.".into()),
                    Para(if_not_you.into()),
                ],
            }
        }
    }
}

fn english(kind: &EmailKind) -> Content {
    const NOT_YOU: &str = "If you did not ask for this, ignore this message";
    match kind {
        EmailKind::PasswordReset { username, code, link, valid_minutes } => Content {
            subject: "Carburoam: your password reset code".into(),
            blocks: vec![
                Para(hello(Lang::En, username)),
                Para("You asked to reset the password of your Carburoam account. Here is your code:".into()),
                Code(code.clone()),
                Para("Enter it on the password reset page, or use the link below.".into()),
                Button { label: "Choose a new password".into(), url: link.clone() },
                Para(format!(
                    "This code and this link are valid for {}. Do not share them with anyone.",
                    minutes(Lang::En, *valid_minutes)
                )),
                Note(format!("{NOT_YOU}: your password is unchanged.")),
            ],
        },
        EmailKind::UsernameReminder { usernames, login_link } => {
            let several = usernames.len() > 1;
            Content {
                subject: if several { "Carburoam: your usernames" } else { "Carburoam: your username" }.into(),
                blocks: vec![
                    Para("Hello,".into()),
                    Para(if several {
                        "Here are the usernames of the Carburoam accounts registered with this email address:".into()
                    } else {
                        "Here is the username of the Carburoam account registered with this email address:".into()
                    }),
                    List(usernames.clone()),
                    Button { label: "Log in".into(), url: login_link.clone() },
                    Note(format!("{NOT_YOU}: nothing was changed.")),
                ],
            }
        }
        EmailKind::ConfirmEmail { display_name, link, valid_hours } => Content {
            subject: "Carburoam: confirm your email address".into(),
            blocks: vec![
                Para(hello(Lang::En, display_name)),
                Para(
                    "To use this email address with your Carburoam account, please confirm it with the link below."
                        .into(),
                ),
                Button { label: "Confirm my address".into(), url: link.clone() },
                Para(format!("This link is valid for {}.", hours(Lang::En, *valid_hours))),
                Note(format!("{NOT_YOU}: this address will not be added to any account.")),
            ],
        },
        EmailKind::EmailChangeRequested { display_name, new_address, cancel_link, valid_hours } => Content {
            subject: "Carburoam: email address change requested".into(),
            blocks: vec![
                Para(hello(Lang::En, display_name)),
                Para(format!(
                    "Someone logged in to your Carburoam account asked to replace this address with \
                     {new_address}. Nothing changes until the link sent to the new address is followed."
                )),
                Para("If it was you, there is nothing to do.".into()),
                Para(format!(
                    "If it was not you, cancel this change (the link is valid for {}): every session of your \
                     account will be closed. Then change your password with \u{201c}Forgot password\u{201d}.",
                    hours(Lang::En, *valid_hours)
                )),
                Button { label: "Cancel the change".into(), url: cancel_link.clone() },
            ],
        },
        EmailKind::AddressInUse { username, login_link, reset_link } => Content {
            subject: "Carburoam: your email address was offered for another account".into(),
            blocks: vec![
                Para(hello(Lang::En, username)),
                Para(
                    "Someone just offered this email address to create a Carburoam account, or for another \
                     account. It is already the address of your account: nothing was changed."
                        .into(),
                ),
                Para("If it was you, log in with your existing account:".into()),
                Button { label: "Log in".into(), url: login_link.clone() },
                Button { label: "Forgot password".into(), url: reset_link.clone() },
                Note("Otherwise, ignore this message.".into()),
            ],
        },
        EmailKind::SecurityNotice { display_name, what } => {
            let (subject, what_happened, if_not_you) = match what {
                SecurityEvent::PasswordChanged => (
                    "Carburoam: your password was changed",
                    "The password of your Carburoam account was just changed.".to_string(),
                    "If it was not you, someone else may know your password: reset it at once with \
                     \u{201c}Forgot password\u{201d} on the login page.",
                ),
                SecurityEvent::EmailChanged { new_address } => (
                    "Carburoam: the email address of your account was changed",
                    format!(
                        "The email address of your Carburoam account was changed to {new_address}. \
                         This message is sent to the old address to let you know."
                    ),
                    "If it was not you, someone else may have access to your account: log in, change your \
                     password and restore your address. If you can no longer log in, contact the \
                     administrator of this site.",
                ),
                SecurityEvent::AccountDeleted => (
                    "Carburoam: your account was deleted",
                    "Your Carburoam account was deleted. Thank you for using it.".to_string(),
                    "If it was not you, contact the administrator of this site at once.",
                ),
            };
            Content {
                subject: subject.into(),
                blocks: vec![
                    Para(hello(Lang::En, display_name)),
                    Para(what_happened),
                    Para("If it was you, there is nothing to do.".into()),
                    Para(if_not_you.into()),
                ],
            }
        }
    }
}

fn hello(lang: Lang, name: &str) -> String {
    let name = name.trim();
    match (lang, name.is_empty()) {
        (Lang::Fr, true) => "Bonjour,".into(),
        (Lang::Fr, false) => format!("Bonjour {name},"),
        (Lang::En, true) => "Hello,".into(),
        (Lang::En, false) => format!("Hello {name},"),
    }
}

/// French puts a space before a colon, English does not. (A plain space, as in the subjects: a
/// no-break one is better typography but surprises whoever searches the texts.)
fn colon(lang: Lang) -> &'static str {
    match lang {
        Lang::Fr => " :",
        Lang::En => ":",
    }
}

fn footer(lang: Lang) -> &'static str {
    match lang {
        Lang::Fr => "Message automatique envoyé par Carburoam, merci de ne pas y répondre.",
        Lang::En => "Automatic message from Carburoam, please do not reply.",
    }
}

/// French counts 0 and 1 as singular, English only 1.
fn plural(lang: Lang, n: u32, one: &str, many: &str) -> String {
    let singular = match lang {
        Lang::Fr => n <= 1,
        Lang::En => n == 1,
    };
    format!("{n} {}", if singular { one } else { many })
}

fn minutes(lang: Lang, n: u32) -> String {
    plural(lang, n, "minute", "minutes")
}

fn hours(lang: Lang, n: u32) -> String {
    match lang {
        Lang::Fr => plural(lang, n, "heure", "heures"),
        Lang::En => plural(lang, n, "hour", "hours"),
    }
}

/// A button, then the address in clear for clients that strip buttons (and for copy and paste).
/// Only `http(s)` addresses become links: the URL is built by the application, but a `javascript:`
/// one would be a disaster, so anything else is shown as text.
fn button(lang: Lang, label: &str, url: &str) -> String {
    let (label, url_text) = (escape(label), escape(url));
    let fallback = match lang {
        Lang::Fr => "Si le bouton ne fonctionne pas, copiez ce lien dans votre navigateur :",
        Lang::En => "If the button does not work, copy this link into your browser:",
    };
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return format!(
            "<p style=\"margin:0 0 16px;\">{label}{}<br><span style=\"word-break:break-all;\">{url_text}</span></p>\n",
            colon(lang)
        );
    }
    format!(
        "<p style=\"margin:8px 0 16px;\"><a href=\"{url_text}\" style=\"display:inline-block;\
         background-color:{ACCENT};color:#ffffff;text-decoration:none;font-weight:bold;padding:12px 20px;\
         border-radius:6px;\">{label}</a></p>\n\
         <p style=\"margin:0 0 16px;font-size:13px;color:{MUTED};\">{}<br>\
         <a href=\"{url_text}\" style=\"color:{LINK};word-break:break-all;\">{url_text}</a></p>\n",
        escape(fallback)
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
        assert_eq!(minutes(Lang::Fr, 1), "1 minute");
        assert_eq!(minutes(Lang::Fr, 0), "0 minute");
        assert_eq!(minutes(Lang::En, 0), "0 minutes");
        assert_eq!(hours(Lang::Fr, 24), "24 heures");
        assert_eq!(hours(Lang::En, 1), "1 hour");
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
                assert!(text.ends_with(&format!("-- \n{}\n", footer(email.lang))));
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
        assert_eq!(hello(Lang::Fr, "  "), "Bonjour,");
        assert_eq!(hello(Lang::En, ""), "Hello,");
    }
}
