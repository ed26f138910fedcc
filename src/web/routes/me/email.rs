//! The links mailed for an address change: confirm it (at the new address), cancel it (from the
//! old one).

use super::*;

/// Follows the link mailed to a new address. Works from any browser: the token is the proof.
pub async fn confirm_email(State(state): State<AppState>, lang: Lang, RawQuery(raw): RawQuery) -> HtmlResult<Response> {
    let a = strings(lang);
    let token = query_param(&raw, "token").unwrap_or_default();
    match state.accounts.confirm_email_change(token.trim(), crate::db::now()).await {
        Ok(Some(done)) => {
            let text = match done {
                crate::services::accounts::Confirmed::Address => a.address_confirmed_text,
                crate::services::accounts::Confirmed::Changed => a.email_confirmed_text,
            };
            notice(&state, lang, a.email_confirmed_title, text, "/me/profile", a.profile_title).await
        }
        Ok(None) => link_invalid(&state, lang).await,
        Err(AccountError::Invalid(_)) => {
            let mut r =
                notice(&state, lang, a.email_taken_title, a.email_taken_text, "/me/profile", a.profile_title).await?;
            *r.status_mut() = StatusCode::CONFLICT;
            Ok(r)
        }
        Err(e) => Err(e.into()),
    }
}

/// The cancel link mailed to the old address: a page with a button (a mail scanner following
/// the link must not cancel anything), no login needed: the token is the proof.
pub async fn cancel_email_page(
    State(state): State<AppState>,
    lang: Lang,
    RawQuery(raw): RawQuery,
) -> HtmlResult<Response> {
    let a = strings(lang);
    let token = query_param(&raw, "token").unwrap_or_default();
    match state.accounts.pending_cancel(token.trim(), crate::db::now()).await {
        Ok(Some(new_email)) => {
            let f = freshness(&state).await.unwrap_or_default();
            Ok(no_store(render(&CancelEmailPage {
                l: layout(lang, format!("{} — Carburoam", a.email_cancel_title), "", "/".into(), &f),
                text: (a.email_cancel_text)(&new_email),
                token: token.trim().to_owned(),
            })?))
        }
        Ok(None) => link_invalid(&state, lang).await,
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "account/cancel_email.html")]
pub struct CancelEmailPage {
    pub l: Layout,
    pub text: String,
    pub token: String,
}

/// The cancel page's button: the token of the link.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CancelEmailForm {
    pub token: String,
}

pub async fn cancel_email(
    State(state): State<AppState>,
    lang: Lang,
    Form(form): Form<CancelEmailForm>,
) -> HtmlResult<Response> {
    let a = strings(lang);
    match state.accounts.cancel_email_change(form.token.trim(), crate::db::now()).await {
        Ok(true) => {
            let r = notice(
                &state,
                lang,
                a.email_cancel_title,
                a.email_cancelled_text,
                "/forgot-password",
                a.forgot_password_title,
            )
            .await?;
            Ok(clear_session(r, &state.accounts.settings))
        }
        Ok(false) => link_invalid(&state, lang).await,
        Err(e) => Err(e.into()),
    }
}

async fn link_invalid(state: &AppState, lang: Lang) -> HtmlResult<Response> {
    let a = strings(lang);
    let mut r = notice(state, lang, a.link_invalid_title, a.link_invalid_text, "/me/profile", a.profile_title).await?;
    *r.status_mut() = StatusCode::NOT_FOUND;
    Ok(r)
}
