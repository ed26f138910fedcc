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
    F: for<'a> Fn(&'a mut AnyArgs, &T) -> &'a mut AnyArgs,
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
    F: for<'a> Fn(&'a mut AnyArgs, &T) -> &'a mut AnyArgs,
{
    let per = per.clamp(1, Backend::MAX_PARAMS / width.max(1));
    let sizes: Vec<usize> = statement_parts(rows, per).map(<[T]>::len).collect();
    execute_parts(tx, texts, head, tail, width, &sizes, rows.iter(), |args, r| {
        bind(args, r);
    })
    .await
}

/// [`rows`] taking the rows by value: `bind` moves their values (a `String` bound by value is
/// handed to the driver as it is, where a borrowed one is copied).
pub async fn rows_owned<T, F>(
    tx: &mut Tx,
    texts: &mut Texts,
    head: &str,
    tail: &str,
    width: usize,
    rows: Vec<T>,
    bind: F,
) -> Result<(), sqlx::Error>
where
    F: Fn(&mut AnyArgs, T),
{
    let sizes: Vec<usize> = statement_parts(&rows, Backend::batch_rows(width)).map(<[T]>::len).collect();
    execute_parts(tx, texts, head, tail, width, &sizes, rows.into_iter(), bind).await
}

/// One statement per entry of `sizes`, each binding that many of `rows` by `bind`: the loop of
/// [`rows_by`] (rows borrowed) and [`rows_owned`] (rows moved).
#[allow(clippy::too_many_arguments)]
async fn execute_parts<I: Iterator>(
    tx: &mut Tx,
    texts: &mut Texts,
    head: &str,
    tail: &str,
    width: usize,
    sizes: &[usize],
    mut rows: I,
    bind: impl Fn(&mut AnyArgs, I::Item),
) -> Result<(), sqlx::Error> {
    let backend = tx.backend();
    for &n in sizes {
        let sql = text(texts, backend, head, tail, n, width);
        let mut args = AnyArgs::new(backend, n * width);
        for r in rows.by_ref().take(n) {
            bind(&mut args, r);
        }
        args.execute(tx, sql).await?;
    }
    Ok(())
}

/// The text of `head VALUES (…),(…) tail` for `n` rows of `width`, built once.
fn text(texts: &mut Texts, backend: Backend, head: &str, tail: &str, n: usize, width: usize) -> std::sync::Arc<str> {
    texts
        .0
        .entry((format!("{head}\0{tail}"), n, width))
        .or_insert_with(|| format!("{head}{}{tail}", values_placeholders(backend, n, width)).into())
        .clone()
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

/// SQLite: the rows of `sql`, a query that gives them all as ONE JSON array of arrays
/// (`json_group_array(json_array(…))`), read as one value: sqlx's SQLite driver copies each value
/// of each row and hands rows one by one between threads, where SQLite builds the text in a few
/// milliseconds (the 33,000 current prices of a national database).
pub async fn json_rows<T: serde::de::DeserializeOwned>(
    conn: &mut sqlx::SqliteConnection,
    sql: &'static str,
) -> Result<Vec<T>, sqlx::Error> {
    let json: String = sqlx::query_scalar(sql).fetch_one(conn).await?;
    serde_json::from_str(&json).map_err(|e| sqlx::Error::Decode(e.into()))
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

/// The parameters of one statement for either backend, so one binding closure serves both.
/// Bound in place, reserved to their count: a statement of thousands of rows binds tens of
/// thousands of values, and a query moved by value at each bind cost the loader memmoves.
pub struct AnyArgs {
    args: Args,
    /// The first value that failed to encode: the statement then fails with it.
    error: Option<sqlx::error::BoxDynError>,
}

enum Args {
    Sqlite(sqlx::sqlite::SqliteArguments),
    Postgres(sqlx::postgres::PgArguments),
}

impl AnyArgs {
    /// Room for `n` values for `backend`'s driver.
    fn new(backend: Backend, n: usize) -> AnyArgs {
        use sqlx::Arguments;
        let args = match backend {
            Backend::Sqlite => {
                let mut a = sqlx::sqlite::SqliteArguments::default();
                a.reserve(n, 0);
                Args::Sqlite(a)
            }
            Backend::Postgres => {
                let mut a = sqlx::postgres::PgArguments::default();
                a.reserve(n, n * 8);
                Args::Postgres(a)
            }
        };
        AnyArgs { args, error: None }
    }

    /// Runs `sql` with these parameters in `tx`, which must be of the backend they were made for.
    async fn execute(self, tx: &mut Tx, sql: std::sync::Arc<str>) -> Result<(), sqlx::Error> {
        if let Some(e) = self.error {
            return Err(sqlx::Error::Encode(e));
        }
        match (self.args, tx) {
            (Args::Sqlite(a), Tx::Sqlite(t)) => {
                sqlx::query_with(sqlx::AssertSqlSafe(sql), a).execute(&mut **t).await?;
            }
            (Args::Postgres(a), Tx::Postgres(t)) => {
                sqlx::query_with(sqlx::AssertSqlSafe(sql), a).execute(&mut **t).await?;
            }
            _ => return Err(sqlx::Error::Protocol("a statement made for the other backend's transaction".into())),
        }
        Ok(())
    }

    pub fn bind<'t, T>(&mut self, v: T) -> &mut AnyArgs
    where
        T: 't
            + sqlx::Encode<'t, sqlx::Sqlite>
            + sqlx::Type<sqlx::Sqlite>
            + sqlx::Encode<'t, sqlx::Postgres>
            + sqlx::Type<sqlx::Postgres>,
    {
        use sqlx::Arguments;
        if self.error.is_none() {
            let added = match &mut self.args {
                Args::Sqlite(a) => a.add(v),
                Args::Postgres(a) => a.add(v),
            };
            if let Err(e) = added {
                self.error = Some(e);
            }
        }
        self
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
