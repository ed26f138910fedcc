//! Downloading the feed: timeouts, size cap, retries with backoff, conditional GET.
