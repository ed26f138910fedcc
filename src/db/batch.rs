//! Multi-row statements of an import: `head VALUES (…),(…) tail` over many rows in few
//! prepared texts, and `… IN (…)` statements over many ids. The statements themselves are in the
//! modules of their tables (`stations`, `prices`, `shortages`, `price_history`).

use std::collections::HashMap;

use super::{Backend, Tx, in_list, values_placeholders};
use crate::on_tx;

/// Multi-row statement texts built so far, by (head and tail, rows, width): a yearly archive
/// sends ~400 history statements of 8,192 rows, each text 50 KB long. Shared with each statement
/// (an `Arc`), not copied.
#[derive(Default)]
pub struct Texts(HashMap<(String, usize, usize), std::sync::Arc<str>>);

/// Runs `head VALUES (…),(…) tail` over `rows` in statements of at most
/// [`Backend::MAX_PARAMS`] parameters: the same text on both backends.
pub async fn rows<T, F>(
    tx: &mut Tx,
    texts: &mut Texts,
    head: &str,
    tail: &str,
    width: usize,
    rows: &[T],
    bind: F,
) -> Result<(), sqlx::Error>
where
    F: for<'q> Fn(AnyQuery<'q>, &'q T) -> AnyQuery<'q>,
{
    rows_by(tx, texts, head, tail, width, Backend::batch_rows(width), rows, bind).await
}

/// [`rows`] with `per` rows per statement (`per * width` ≤ [`Backend::MAX_PARAMS`]).
#[allow(clippy::too_many_arguments)]
pub async fn rows_by<T, F>(
    tx: &mut Tx,
    texts: &mut Texts,
    head: &str,
    tail: &str,
    width: usize,
    per: usize,
    rows: &[T],
    bind: F,
) -> Result<(), sqlx::Error>
where
    F: for<'q> Fn(AnyQuery<'q>, &'q T) -> AnyQuery<'q>,
{
    let per = per.clamp(1, Backend::MAX_PARAMS / width.max(1));
    let backend = tx.backend();
    for part in statement_parts(rows, per) {
        let sql = texts
            .0
            .entry((format!("{head}\0{tail}"), part.len(), width))
            .or_insert_with(|| format!("{head}{}{tail}", values_placeholders(backend, part.len(), width)).into())
            .clone();
        let mut q = AnyQuery::new(backend, sql);
        for r in part {
            q = bind(q, r);
        }
        q.execute(tx).await?;
    }
    Ok(())
}

/// Runs an `… IN (…)` statement over `ids` in batches. `sql` gets the placeholders of the
/// `leading` parameters (bound first, in every batch) and the list for the ids, both in the
/// backend's style (see [`in_list`]).
pub async fn by_ids(
    tx: &mut Tx,
    leading: &[i64],
    ids: &[i64],
    sql: impl Fn(&[&str], &str) -> String,
) -> Result<(), sqlx::Error> {
    let backend = tx.backend();
    let heads = in_list(backend, 1, leading.len());
    let heads: Vec<&str> = heads.split(',').filter(|p| !p.is_empty()).collect();
    for part in ids.chunks(Backend::MAX_PARAMS) {
        let text = sql(&heads, &in_list(backend, 1 + leading.len(), part.len()));
        on_tx!(&mut *tx, conn => {
            // Not kept prepared: one text per length of the list.
            let mut q = sqlx::query(sqlx::AssertSqlSafe(text)).persistent(false);
            for v in leading.iter().chain(part) {
                q = q.bind(*v);
            }
            q.execute(&mut *conn).await?;
        });
    }
    Ok(())
}

/// Reads the rows of an `… IN (…)` query over `ids` (at most [`Backend::MAX_PARAMS`]): `sql`
/// gets the list's placeholders.
pub async fn fetch_in<T>(tx: &mut Tx, ids: &[i64], sql: impl Fn(&str) -> String) -> Result<Vec<T>, sqlx::Error>
where
    T: Send
        + Unpin
        + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
        + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
{
    let text = sql(&in_list(tx.backend(), 1, ids.len()));
    // Not kept prepared: the list's length, so the text, changes with every call.
    Ok(on_tx!(tx, conn => {
        let mut q = sqlx::query_as::<_, T>(sqlx::AssertSqlSafe(text)).persistent(false);
        for id in ids {
            q = q.bind(*id);
        }
        q.fetch_all(&mut *conn).await?
    }))
}

/// Splits `rows` into statements of `per` rows, then the rest into powers of two: sqlx prepares
/// and caches one statement per distinct text, and a prepared multi-row INSERT of thousands of
/// rows weighs about a megabyte in SQLite, so the sizes used stay few (at most ~13 texts per
/// table, where any remainder size would add its own).
fn statement_parts<T>(rows: &[T], per: usize) -> impl Iterator<Item = &[T]> {
    let full = rows.len() / per * per;
    let (head, mut rest) = rows.split_at(full);
    let tail = std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let n = 1 << rest.len().ilog2();
        let (part, more) = rest.split_at(n);
        rest = more;
        Some(part)
    });
    head.chunks(per).chain(tail)
}

/// A query for either backend, so one binding closure serves both.
pub enum AnyQuery<'q> {
    Sqlite(sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>),
    Postgres(sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>),
}

impl<'q> AnyQuery<'q> {
    /// A statement of `sql` (a `String`, or an `Arc<str>` shared with a cache) for `backend`'s
    /// driver.
    fn new<S>(backend: Backend, sql: S) -> AnyQuery<'q>
    where
        sqlx::AssertSqlSafe<S>: sqlx::SqlSafeStr,
    {
        match backend {
            Backend::Sqlite => AnyQuery::Sqlite(sqlx::query(sqlx::AssertSqlSafe(sql))),
            Backend::Postgres => AnyQuery::Postgres(sqlx::query(sqlx::AssertSqlSafe(sql))),
        }
    }

    /// Runs the statement in `tx`, which must be of the backend it was made for.
    async fn execute(self, tx: &mut Tx) -> Result<(), sqlx::Error> {
        match (self, tx) {
            (AnyQuery::Sqlite(q), Tx::Sqlite(t)) => {
                q.execute(&mut **t).await?;
            }
            (AnyQuery::Postgres(q), Tx::Postgres(t)) => {
                q.execute(&mut **t).await?;
            }
            _ => return Err(sqlx::Error::Protocol("a statement made for the other backend's transaction".into())),
        }
        Ok(())
    }

    pub fn bind<T>(self, v: T) -> AnyQuery<'q>
    where
        T: 'q
            + sqlx::Encode<'q, sqlx::Sqlite>
            + sqlx::Type<sqlx::Sqlite>
            + sqlx::Encode<'q, sqlx::Postgres>
            + sqlx::Type<sqlx::Postgres>,
    {
        match self {
            AnyQuery::Sqlite(q) => AnyQuery::Sqlite(q.bind(v)),
            AnyQuery::Postgres(q) => AnyQuery::Postgres(q.bind(v)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::statement_parts;

    #[test]
    fn statement_sizes_are_few() {
        let rows: Vec<u32> = (0..10_000).collect();
        let sizes: Vec<usize> = statement_parts(&rows, 4096).map(<[u32]>::len).collect();
        assert_eq!(sizes, [4096, 4096, 1024, 512, 256, 16]);
        let back: Vec<u32> = statement_parts(&rows, 4096).flatten().copied().collect();
        assert_eq!(back, rows);
        assert_eq!(statement_parts(&rows[..0], 500).count(), 0);
        assert_eq!(statement_parts(&rows[..1], 500).map(<[u32]>::len).collect::<Vec<_>>(), [1]);
    }
}
