//! Why a feed file was refused. Every variant reads as one clear line for the operator.

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("the file is empty")]
    Empty,
    #[error("this is an HTML page, not a feed (the server sent an error page?)")]
    Html,
    #[error("not a feed: {0}")]
    NotAFeed(String),
    #[error("ZIP archive is damaged or truncated: {0}")]
    Zip(String),
    #[error("the ZIP archive holds no XML file")]
    NoXmlInZip,
    #[error("too large: {what} exceeds the cap of {cap} bytes")]
    TooLarge { what: &'static str, cap: u64 },
    #[error("XML error at byte {position}: {message}")]
    Xml { position: u64, message: String },
    #[error("the document ends before </pdv_liste> (truncated file?)")]
    Truncated,
    #[error("unexpected root element <{0}> (expected <pdv_liste>)")]
    WrongRoot(String),
    #[error("unsupported encoding {0:?}")]
    Encoding(String),
    #[error("cannot read: {0}")]
    Io(#[from] std::io::Error),
}

impl FeedError {
    /// Wraps this error in an `io::Error`, so that [`crate::feed::archive::FeedReader`] can
    /// report a cap or a CRC failure through the `Read` trait and the parser can tell it apart
    /// from a real I/O failure afterwards ([`FeedError::from_io`]).
    pub(crate) fn into_io(self) -> std::io::Error {
        match self {
            FeedError::Io(e) => e,
            other => std::io::Error::other(other),
        }
    }

    /// The `FeedError` an `io::Error` carries (from [`FeedError::into_io`]), else `Io`.
    pub fn from_io(e: std::io::Error) -> FeedError {
        if e.get_ref().is_some_and(|i| i.is::<FeedError>()) {
            if let Some(inner) = e.into_inner()
                && let Ok(fe) = inner.downcast::<FeedError>()
            {
                return *fe;
            }
            return FeedError::Io(std::io::Error::other("unreadable error payload"));
        }
        FeedError::Io(e)
    }

    /// Like [`FeedError::from_io`] for an error that is shared (quick-xml keeps them in an `Arc`).
    pub(crate) fn from_io_ref(e: &std::io::Error) -> FeedError {
        match e.get_ref().and_then(|i| i.downcast_ref::<FeedError>()) {
            Some(fe) => fe.duplicate(),
            None => FeedError::Io(std::io::Error::new(e.kind(), e.to_string())),
        }
    }

    /// A copy (the `io::Error` inside `Io` is not `Clone`: its kind and message are kept).
    fn duplicate(&self) -> FeedError {
        match self {
            FeedError::Empty => FeedError::Empty,
            FeedError::Html => FeedError::Html,
            FeedError::NotAFeed(s) => FeedError::NotAFeed(s.clone()),
            FeedError::Zip(s) => FeedError::Zip(s.clone()),
            FeedError::NoXmlInZip => FeedError::NoXmlInZip,
            FeedError::TooLarge { what, cap } => FeedError::TooLarge { what, cap: *cap },
            FeedError::Xml { position, message } => FeedError::Xml { position: *position, message: message.clone() },
            FeedError::Truncated => FeedError::Truncated,
            FeedError::WrongRoot(s) => FeedError::WrongRoot(s.clone()),
            FeedError::Encoding(s) => FeedError::Encoding(s.clone()),
            FeedError::Io(e) => FeedError::Io(std::io::Error::new(e.kind(), e.to_string())),
        }
    }
}
