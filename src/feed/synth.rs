//! A generator of realistic national-size feeds, for benchmarks and tests without ../shared.
