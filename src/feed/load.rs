//! Loading a parsed feed into the database, in one transaction.
