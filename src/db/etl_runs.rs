//! ETL run records.
