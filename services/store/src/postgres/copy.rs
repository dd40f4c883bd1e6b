//! Bulk inserts through `COPY … FROM STDIN (FORMAT binary)`.
//!
//! A first push of a large lineage document inserts thousands of entities, edges and
//! change-log rows. As `INSERT … SELECT FROM UNNEST` the server decodes one array per
//! column, runs them through a projection and parses every JSONB and UUID again; `COPY`
//! in the binary format hands it the rows as they are stored (a 5,000-feature first push
//! took 12–13 % less; BENCHMARKS.md). Triggers (the statement-level reference checks) and column
//! defaults (the change log's sequence) apply to `COPY` exactly as to `INSERT`.
//!
//! The rows are encoded into one buffer before the statement starts, so nothing can fail
//! half-way through the stream: either the whole buffer is sent and `COPY` finishes (or
//! the server refuses it, as it would the `INSERT`), or nothing was sent.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01).
const PG_EPOCH_OFFSET_MICROS: i64 = 946_684_800_000_000;

/// Rows in `COPY`'s binary format, one field at a time.
pub(super) struct CopyRows {
    buf: Vec<u8>,
}

impl CopyRows {
    pub(super) fn new(rows: usize) -> Self {
        let mut buf = Vec::with_capacity(19 + rows * 256);
        buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
        buf.extend_from_slice(&0i32.to_be_bytes()); // flags: no OIDs
        buf.extend_from_slice(&0i32.to_be_bytes()); // no header extension
        CopyRows { buf }
    }

    /// Starts a row of `fields` fields; each must then be written in the table's order.
    pub(super) fn row(&mut self, fields: i16) -> &mut Self {
        self.buf.extend_from_slice(&fields.to_be_bytes());
        self
    }

    fn field(&mut self, bytes: &[u8]) -> &mut Self {
        let len = i32::try_from(bytes.len()).expect("a field under 2 GiB");
        self.buf.extend_from_slice(&len.to_be_bytes());
        self.buf.extend_from_slice(bytes);
        self
    }

    pub(super) fn null(&mut self) -> &mut Self {
        self.buf.extend_from_slice(&(-1i32).to_be_bytes());
        self
    }

    pub(super) fn uuid(&mut self, id: Uuid) -> &mut Self {
        self.field(id.as_bytes())
    }

    pub(super) fn opt_uuid(&mut self, id: Option<Uuid>) -> &mut Self {
        match id {
            Some(id) => self.uuid(id),
            None => self.null(),
        }
    }

    pub(super) fn text(&mut self, text: &str) -> &mut Self {
        self.field(text.as_bytes())
    }

    pub(super) fn opt_text(&mut self, text: Option<&str>) -> &mut Self {
        match text {
            Some(text) => self.text(text),
            None => self.null(),
        }
    }

    pub(super) fn int8(&mut self, value: i64) -> &mut Self {
        self.field(&value.to_be_bytes())
    }

    pub(super) fn timestamptz(&mut self, at: DateTime<Utc>) -> &mut Self {
        self.int8(at.timestamp_micros() - PG_EPOCH_OFFSET_MICROS)
    }

    pub(super) fn opt_timestamptz(&mut self, at: Option<DateTime<Utc>>) -> &mut Self {
        match at {
            Some(at) => self.timestamptz(at),
            None => self.null(),
        }
    }

    /// JSONB's binary form: a version byte, then the JSON text.
    pub(super) fn jsonb(&mut self, value: &impl Serialize) -> &mut Self {
        let at = self.buf.len();
        self.buf.extend_from_slice(&[0; 4]);
        self.buf.push(1);
        serde_json::to_writer(&mut self.buf, value).expect("JSON into memory");
        let len = i32::try_from(self.buf.len() - at - 4).expect("a field under 2 GiB");
        self.buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
        self
    }

    /// Streams the rows into `statement` (a `COPY … FROM STDIN (FORMAT binary)`).
    pub(super) async fn copy_into(
        mut self,
        conn: &mut sqlx::PgConnection,
        statement: &str,
    ) -> crate::Result<u64> {
        self.buf.extend_from_slice(&(-1i16).to_be_bytes()); // trailer
        let mut copy = conn.copy_in_raw(statement).await?;
        if let Err(e) = copy.send(self.buf).await {
            // The connection is unusable mid-stream; the caller's transaction rolls back.
            return Err(e.into());
        }
        Ok(copy.finish().await?)
    }
}
