//! Job leases.
