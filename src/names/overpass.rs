//! Downloading the names of every French fuel station from an Overpass API instance.
//!
//! One GET `?data=<query>` (Overpass accepts GET and POST alike) through the feed's
//! [`Fetcher`]: the same timeouts, size cap, and retries with backoff on 429/5xx (Overpass
//! answers 429 when its slots are busy and 504 when it is overloaded).

use std::time::Duration;

use bytes::Bytes;

use crate::feed::download::{Conditional, DownloadError, FetchOptions, Fetched, Fetcher};

/// The main public Overpass instance.
pub const DEFAULT_ENDPOINT: &str = "https://overpass-api.de/api/interpreter";

/// Server-side limit of the query, and the client's limit for the whole answer.
pub const TIMEOUT: Duration = Duration::from_secs(180);

/// Largest answer accepted: France's ~12,600 stations take about 6 MB of JSON.
pub const MAX_BYTES: u64 = 64 * 1024 * 1024;

/// The query: every `amenity=fuel` object of France (nodes, ways, relations) carrying a
/// `ref:FR:prix-carburants`, with its tags (and the centre of ways and relations), as JSON.
pub const QUERY: &str = r#"[out:json][timeout:180];
area["ISO3166-1"="FR"][admin_level=2]->.fr;
nwr["amenity"="fuel"]["ref:FR:prix-carburants"](area.fr);
out tags center;"#;

/// Where and how to ask.
#[derive(Debug, Clone)]
pub struct OverpassOptions {
    /// The interpreter URL (`https://…/api/interpreter`).
    pub endpoint: String,
    /// This instance's public address, named in the User-Agent so the Overpass operators know
    /// whom to contact.
    pub public_url: Option<String>,
    pub timeout: Duration,
    pub max_bytes: u64,
    pub retries: u32,
    pub backoff_base: Duration,
}

impl Default for OverpassOptions {
    fn default() -> Self {
        OverpassOptions {
            endpoint: DEFAULT_ENDPOINT.to_owned(),
            public_url: None,
            timeout: TIMEOUT,
            max_bytes: MAX_BYTES,
            retries: 3,
            backoff_base: Duration::from_secs(5),
        }
    }
}

impl OverpassOptions {
    /// `carburoam/0.1.0 (+https://carburoam.example; station names from OpenStreetMap)`.
    pub fn user_agent(&self) -> String {
        let contact = self.public_url.as_deref().map(|u| format!("+{u}; ")).unwrap_or_default();
        format!(
            "{}/{} ({contact}station names from OpenStreetMap, https://github.com/carburoam)",
            env!("CARGO_PKG_NAME"),
            env!("CARGO_PKG_VERSION")
        )
    }

    /// The GET URL: the endpoint with the query as `data=`.
    pub fn url(&self) -> Result<String, DownloadError> {
        let mut url = url::Url::parse(&self.endpoint)
            .map_err(|e| DownloadError::InvalidUrl { url: self.endpoint.clone(), reason: e.to_string() })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(DownloadError::InvalidUrl { url: self.endpoint.clone(), reason: "not http(s)".into() });
        }
        url.query_pairs_mut().append_pair("data", QUERY);
        Ok(url.into())
    }

    fn fetch_options(&self) -> FetchOptions {
        FetchOptions {
            timeout: self.timeout,
            max_bytes: self.max_bytes,
            retries: self.retries,
            backoff_base: self.backoff_base,
            user_agent: self.user_agent(),
            ..FetchOptions::default()
        }
    }
}

/// Runs the query and returns the complete answer (not yet checked: see `names::parse`).
pub async fn fetch(opts: &OverpassOptions) -> Result<Bytes, DownloadError> {
    fetch_source(&opts.url()?, opts).await
}

/// Reads a names source that is not `overpass`: an `http(s)://` URL, a `file://` URL or a
/// path, under the same size cap.
pub async fn fetch_source(source: &str, opts: &OverpassOptions) -> Result<Bytes, DownloadError> {
    let fetcher = Fetcher::new(opts.fetch_options())?;
    match fetcher.fetch(source, &Conditional::none()).await? {
        Fetched::Body { bytes, .. } => Ok(bytes),
        Fetched::NotModified => Err(DownloadError::Network {
            url: source.to_owned(),
            cause: "304 Not Modified to an unconditional request".into(),
            attempts: 1,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_and_user_agent() {
        let o = OverpassOptions { public_url: Some("https://fuel.example".into()), ..OverpassOptions::default() };
        let url = o.url().expect("url");
        assert!(url.starts_with("https://overpass-api.de/api/interpreter?data=%5Bout%3Ajson%5D"), "{url}");
        let back = url::Url::parse(&url).expect("parses");
        let data = back.query_pairs().find(|(k, _)| k == "data").map(|(_, v)| v.into_owned());
        assert_eq!(data.as_deref(), Some(QUERY));
        assert!(o.user_agent().contains("+https://fuel.example"), "{}", o.user_agent());
        let bad = OverpassOptions { endpoint: "ftp://x".into(), ..OverpassOptions::default() };
        assert!(bad.url().is_err());
    }
}
