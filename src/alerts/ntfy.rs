//! ntfy (<https://ntfy.sh>, or a self-hosted server): one POST to the topic URL the user gave,
//! the message as the body, the title, priority, tags and click URL as query parameters (they
//! carry UTF-8 safely, unlike headers), the optional access token as a bearer token. The URL is
//! checked and the connection pinned by [`super::target`]; neither the URL nor the token reach
//! the logs or the error stored for the user.

use super::target::{AllowList, client_for, read_bounded};

/// Longest access token accepted, in bytes (ntfy's are 32 characters).
pub const MAX_TOKEN_LEN: usize = 512;

/// Why a typed access token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BadToken {
    /// A CR, LF, NUL or other control character: it would break the `Authorization` header at
    /// send time, or smuggle another header.
    #[error("the token holds a control character")]
    Control,
    #[error("the token is longer than {MAX_TOKEN_LEN} bytes")]
    TooLong,
}

/// An access token as the form typed it (surrounding spaces dropped), checked when it is saved:
/// `None` when the field was left empty.
pub fn parse_token(typed: &str) -> Result<Option<&str>, BadToken> {
    let token = typed.trim_matches(' ');
    if token.chars().any(char::is_control) {
        return Err(BadToken::Control);
    }
    if token.len() > MAX_TOKEN_LEN {
        return Err(BadToken::TooLong);
    }
    Ok((!token.is_empty()).then_some(token))
}

/// What an ntfy message says.
pub struct NtfyMessage<'a> {
    pub title: &'a str,
    pub body: &'a str,
    /// 1 (min) to 5 (max); 3 is ntfy's default.
    pub priority: u8,
    pub click: Option<&'a str>,
}

/// Publishes one message. The error is safe to show and store: no URL, no token.
pub async fn publish(allow: &AllowList, topic: &str, token: Option<&str>, m: &NtfyMessage<'_>) -> Result<(), String> {
    let mut url = url::Url::parse(topic).map_err(|_| "invalid topic URL".to_owned())?;
    let addrs = allow.check_resolved(&url).await.map_err(|e| e.to_string())?;
    url.query_pairs_mut()
        .append_pair("title", m.title)
        .append_pair("priority", &m.priority.clamp(1, 5).to_string())
        .append_pair("tags", "fuelpump");
    if let Some(click) = m.click {
        url.query_pairs_mut().append_pair("click", click);
    }
    let client = client_for(&url, &addrs).map_err(|e| e.without_url().to_string())?;
    let mut req = client.post(url).header("content-type", "text/plain; charset=utf-8").body(m.body.to_owned());
    if let Some(t) = token.filter(|t| !t.is_empty()) {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.map_err(|e| e.without_url().to_string())?;
    let status = resp.status();
    let body = read_bounded(resp).await;
    if status.is_success() {
        Ok(())
    } else {
        // ntfy answers `{"code":40101,"http":401,"error":"unauthorized"…}`: the short reason only.
        let reason = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
            .unwrap_or_default();
        let reason: String = reason.chars().filter(|c| !c.is_control()).take(120).collect();
        Err(format!("the ntfy server answered {status} {reason}").trim().to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_checked_when_saved() {
        assert_eq!(parse_token("  tk_abc  "), Ok(Some("tk_abc")));
        assert_eq!(parse_token("   "), Ok(None));
        for bad in ["tk\r\nX-Evil: 1", "tk\n", "tk\0", "\ttk", "tk\u{7f}", "tk\u{85}"] {
            assert_eq!(parse_token(bad), Err(BadToken::Control), "{bad:?}");
        }
        assert_eq!(parse_token(&"t".repeat(MAX_TOKEN_LEN)).map(|t| t.map(str::len)), Ok(Some(MAX_TOKEN_LEN)));
        assert_eq!(parse_token(&"t".repeat(MAX_TOKEN_LEN + 1)), Err(BadToken::TooLong));
    }
}
