//! Station queries.
