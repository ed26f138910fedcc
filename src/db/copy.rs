//! PostgreSQL's binary `COPY … FROM STDIN (FORMAT binary)`: rows streamed to the server without
//! a parse and a plan of thousands of parameters per statement, numbers sent as big-endian bytes
//! instead of text. Used for the bulk writes of an import (history points, series cells).

use sqlx::postgres::PgConnection;

/// Bytes of COPY data sent per message.
const CHUNK: usize = 1 << 20;

/// The header of the binary format: signature, flags, header extension length.
pub(crate) const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// Rows encoded in the binary format: per row the field count, then each field's length and
/// big-endian value (the column types must match the table's exactly: `SMALLINT` is `i16`, …).
#[derive(Debug)]
pub struct CopyRows {
    data: Vec<u8>,
}

impl CopyRows {
    fn new() -> CopyRows {
        let mut data = Vec::with_capacity(CHUNK + 4096);
        data.extend_from_slice(HEADER);
        CopyRows { data }
    }

    /// Starts a row of `fields` fields.
    pub fn row(&mut self, fields: i16) -> &mut Self {
        self.data.extend_from_slice(&fields.to_be_bytes());
        self
    }

    pub fn i16(&mut self, v: i16) -> &mut Self {
        self.field(&v.to_be_bytes())
    }

    pub fn i32(&mut self, v: i32) -> &mut Self {
        self.field(&v.to_be_bytes())
    }

    pub fn i64(&mut self, v: i64) -> &mut Self {
        self.field(&v.to_be_bytes())
    }

    /// A `TEXT` (UTF-8) or `BYTEA` value: its bytes as they are.
    pub fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.field(v)
    }

    fn field(&mut self, v: &[u8]) -> &mut Self {
        // A field longer than 2 GB cannot be sent; COPY refuses the short length it would get.
        let len = i32::try_from(v.len()).unwrap_or(i32::MAX);
        self.data.extend_from_slice(&len.to_be_bytes());
        self.data.extend_from_slice(v);
        self
    }
}

/// Streams `rows` through `statement` (a `COPY … FROM STDIN (FORMAT binary)`), each row encoded
/// by `encode`, in messages of about a megabyte. On an error the COPY is aborted and the error
/// returned (the transaction is then failed: the caller rolls it back).
pub async fn copy_in<T>(
    conn: &mut PgConnection,
    statement: &str,
    rows: &[T],
    encode: impl Fn(&mut CopyRows, &T),
) -> Result<(), sqlx::Error> {
    let mut copy = conn.copy_in_raw(statement).await?;
    let mut out = CopyRows::new();
    let mut sent: Result<(), sqlx::Error> = Ok(());
    for row in rows {
        encode(&mut out, row);
        if out.data.len() >= CHUNK {
            if let Err(e) = copy.send(out.data.as_slice()).await {
                sent = Err(e);
                break;
            }
            out.data.clear();
        }
    }
    if sent.is_ok() {
        out.data.extend_from_slice(&(-1i16).to_be_bytes());
        sent = copy.send(out.data.as_slice()).await.map(|_| ());
    }
    match sent {
        Ok(()) => copy.finish().await.map(|_| ()),
        Err(e) => {
            let _ = copy.abort("the import failed").await;
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{CopyRows, HEADER};

    /// The bytes of a row, as PostgreSQL's documentation of the binary format lays them out.
    #[test]
    fn rows_follow_the_binary_format() {
        assert_eq!(HEADER.len(), 19);
        assert_eq!(&HEADER[..11], b"PGCOPY\n\xff\r\n\0");
        let mut out = CopyRows::new();
        out.row(5).i64(1000001).i16(6).i64(-2).i32(1_799).bytes(b"01");
        let expected: Vec<u8> = [
            HEADER,
            &[0, 5][..],
            &[0, 0, 0, 8, 0, 0, 0, 0, 0, 0x0f, 0x42, 0x41],
            &[0, 0, 0, 2, 0, 6],
            &[0, 0, 0, 8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe],
            &[0, 0, 0, 4, 0, 0, 0x07, 0x07],
            &[0, 0, 0, 2, b'0', b'1'],
        ]
        .concat();
        assert_eq!(out.data, expected);
    }
}
