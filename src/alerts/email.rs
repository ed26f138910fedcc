//! Alert messages by email, through the site's mailer: plain text and HTML in the user's
//! language, and for messages that come from rules a one-click unsubscribe (RFC 8058): a random
//! token, stored hashed, whose link pauses only the rules of this message, without logging in.

use crate::auth::secret;
use crate::db::alert_outbox::Job;
use crate::db::alerts;
use crate::domain::{ChannelKind, Lang, MessageKind};
use crate::email::{Email, EmailKind, Mailer, Recipient};

use super::render::Rendered;

/// The unsubscribe page of a token.
pub fn unsubscribe_url(public_url: &str, token: &str) -> String {
    format!("{public_url}/alerts/unsubscribe/{token}")
}

pub async fn send(
    db: &crate::db::Db,
    mailer: &Mailer,
    public_url: &str,
    job: &Job,
    r: &Rendered,
    now: i64,
) -> Result<(), String> {
    let lang = Lang::parse(&job.lang).unwrap_or(Lang::Fr);
    let t = lang.texts().alerts;
    let mut headers = Vec::new();
    let mut notes = Vec::new();
    if !r.rules.is_empty() {
        let token = secret::token();
        alerts::add_unsubscribe(db, &secret::digest(&token), &r.rules, now).await.map_err(|e| e.to_string())?;
        let link = unsubscribe_url(public_url, &token);
        notes.push((t.unsubscribe_note)(&link));
        headers.push(("List-Unsubscribe", format!("<{link}>")));
        headers.push(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click".to_owned()));
    }
    let mut paragraphs = vec![(t.hello)(job.display_name.trim())];
    if job.message_kind == MessageKind::Alert {
        paragraphs.push(t.alert_intro.to_owned());
    }
    paragraphs.extend(r.paragraphs.iter().cloned());
    let button = match (job.message_kind, &r.click) {
        (MessageKind::Alert, Some(url)) => Some((t.see_station.to_owned(), url.clone())),
        _ => Some((t.manage.to_owned(), format!("{public_url}/me/alerts"))),
    };
    let email = Email {
        lang,
        kind: EmailKind::Alert {
            name: if job.message_kind == MessageKind::Digest { "alert-digest" } else { "price-alert" },
            subject: r.subject.clone(),
            paragraphs,
            button,
            notes,
        },
    };
    let to = Recipient { address: job.email.clone(), name: Some(job.display_name.clone()) };
    mailer.send_with_headers(&to, &email, &headers).await.map_err(|e| e.to_string())
}

/// Tells a user that one of their channels was paused after 7 days of failures.
pub async fn channel_paused(mailer: &Mailer, public_url: &str, job: &Job) -> Result<(), String> {
    let lang = Lang::parse(&job.lang).unwrap_or(Lang::Fr);
    let t = lang.texts().alerts;
    let kind = match job.channel_kind {
        ChannelKind::Email => t.channel_email,
        ChannelKind::Ntfy => t.channel_ntfy,
        ChannelKind::Push => t.channel_push,
    };
    let email = Email {
        lang,
        kind: EmailKind::Alert {
            name: "alert-channel-paused",
            subject: t.paused_subject.to_owned(),
            paragraphs: vec![(t.hello)(job.display_name.trim()), (t.paused_text)(kind)],
            button: Some((t.manage.to_owned(), format!("{public_url}/me/alerts"))),
            notes: Vec::new(),
        },
    };
    let to = Recipient { address: job.email.clone(), name: Some(job.display_name.clone()) };
    mailer.send(&to, &email).await.map_err(|e| e.to_string())
}
