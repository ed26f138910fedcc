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
