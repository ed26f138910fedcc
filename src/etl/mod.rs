//! The ETL job: lease, fetch, import, record.
