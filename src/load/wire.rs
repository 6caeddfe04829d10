//! A load client's socket, which drops the rows of an answer on the way in.
//!
//! tokio-postgres turns every message it reads into a message of its own
//! (a reference-counted slice per row, parsed field by field) before a
//! caller can ignore it; for a read of 50 rows that was most of a load
//! client's CPU. `load` needs only each answer's end and its command tag
//! (`SELECT 50`), so once its session is set up and its queries prepared it
//! switches this socket to skip `DataRow` messages by their length: the
//! server sends the same bytes and the client reads every one of them, but
//! the rows never reach tokio-postgres. Every other message (the tag,
//! `ReadyForQuery`, errors and notices) passes unchanged.
//!
//! Only a session over the server's Unix-domain socket is wrapped so (the
//! embedded cluster's, a local server's): under TLS the rows are encrypted,
//! and the settings of a TCP session (host lists, TLS modes, keepalives)
//! are tokio-postgres's to follow. Those sessions get the plain socket,
//! whose rows tokio-postgres parses and `load` drops.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::Client;

use crate::cluster::{Endpoint, Registration};
use crate::error::Result;

/// The tag of a `DataRow` message: one row of an answer.
const DATA_ROW: u8 = b'D';
/// A message's length field: four bytes, big-endian, counting itself.
const LENGTH_BYTES: usize = 4;

/// Where the reader is in the stream of backend messages.
#[derive(Debug, Clone, Copy, PartialEq)]
enum At {
    /// The next byte is a message's tag.
    Tag,
    /// Reading a length field (`have` bytes so far) of a message that is
    /// passed on (`keep`) or dropped.
    Length { keep: bool, have: usize, value: u32 },
    /// Inside a message's body, `left` bytes still to pass on or drop.
    Body { keep: bool, left: usize },
}

/// Filters backend messages: drops each `DataRow` when `skip_rows` is set
/// (read at each message's start), passes everything else through.
#[derive(Debug)]
struct Filter {
    at: At,
    skip_rows: Arc<AtomicBool>,
}

impl Filter {
    /// Filters `buf` in place; returns how many bytes it keeps, moved to
    /// the front. A message may be split anywhere across calls.
    fn apply(&mut self, buf: &mut [u8]) -> usize {
        let (mut read, mut kept) = (0, 0);
        while read < buf.len() {
            let (keep, taken) = self.step(&buf[read..]);
            if keep {
                if read != kept {
                    buf.copy_within(read..read + taken, kept);
                }
                kept += taken;
            }
            read += taken;
        }
        kept
    }

    /// A whole message header at the start of `rest`, read at once (the
    /// usual case): whether the message is kept, and its whole length.
    fn header(&self, rest: &[u8]) -> Option<(bool, usize)> {
        let header: [u8; 1 + LENGTH_BYTES] = rest.get(..1 + LENGTH_BYTES)?.try_into().ok()?;
        let length = u32::from_be_bytes([header[1], header[2], header[3], header[4]]);
        Some((
            self.keeps(header[0]),
            1 + (length as usize).max(LENGTH_BYTES),
        ))
    }

    /// Whether a message with tag `tag` is passed on.
    fn keeps(&self, tag: u8) -> bool {
        tag != DATA_ROW || !self.skip_rows.load(Ordering::Relaxed)
    }

    /// Consumes the start of `rest` (never empty): how many bytes, and
    /// whether they are kept.
    fn step(&mut self, rest: &[u8]) -> (bool, usize) {
        match self.at {
            At::Tag => match self.header(rest) {
                Some((keep, whole)) => {
                    let taken = whole.min(rest.len());
                    self.at = match whole - taken {
                        0 => At::Tag,
                        left => At::Body { keep, left },
                    };
                    (keep, taken)
                }
                None => {
                    let keep = self.keeps(rest[0]);
                    self.at = At::Length {
                        keep,
                        have: 0,
                        value: 0,
                    };
                    (keep, 1)
                }
            },
            At::Length { keep, have, value } => {
                let value = value << 8 | u32::from(rest[0]);
                self.at = match have + 1 {
                    LENGTH_BYTES => body(keep, value),
                    have => At::Length { keep, have, value },
                };
                (keep, 1)
            }
            At::Body { keep, left } => {
                let taken = left.min(rest.len());
                self.at = match left - taken {
                    0 => At::Tag,
                    left => At::Body { keep, left },
                };
                (keep, taken)
            }
        }
    }
}

/// After a length field: the body it announces, or the next tag when it
/// is empty. (A length below 4 is the server's error; it is passed on for
/// tokio-postgres to report.)
fn body(keep: bool, length: u32) -> At {
    match (length as usize).saturating_sub(LENGTH_BYTES) {
        0 => At::Tag,
        left => At::Body { keep, left },
    }
}

/// How much one read from the socket may take: an answer of 50 rows of a
/// few columns in one read.
const READ_BUFFER: usize = 16 * 1024;

/// A stream to the server whose reads drop `DataRow` messages once
/// [`RowSkipping::switch`] is set. Writes go through unchanged.
///
/// It reads into a buffer of its own and hands on what it keeps: reading
/// straight into the caller's buffer, which tokio-postgres refills only
/// when it is full, the few bytes kept of each answer let that buffer's
/// free end shrink, and an answer took several reads.
pub struct RowSkipping<S> {
    inner: S,
    filter: Filter,
    read: Box<[u8]>,
    /// `read[kept.0..kept.1]`: kept bytes not yet handed on.
    kept: (usize, usize),
}

impl<S> RowSkipping<S> {
    /// Wraps `inner`, passing rows until the switch is set.
    pub fn new(inner: S) -> RowSkipping<S> {
        RowSkipping {
            inner,
            filter: Filter {
                at: At::Tag,
                skip_rows: Arc::default(),
            },
            read: vec![0; READ_BUFFER].into_boxed_slice(),
            kept: (0, 0),
        }
    }

    /// The switch: set it, between requests, to drop rows from then on.
    pub fn switch(&self) -> Arc<AtomicBool> {
        self.filter.skip_rows.clone()
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for RowSkipping<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // Returning with nothing read would say the stream ended: read on
        // while every byte read was a row's.
        while this.kept.0 == this.kept.1 {
            let mut read = ReadBuf::new(&mut this.read);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
            let n = read.filled().len();
            if n == 0 {
                return Poll::Ready(Ok(())); // the end of the stream
            }
            this.kept = (0, this.filter.apply(&mut this.read[..n]));
        }
        let (from, to) = this.kept;
        let n = (to - from).min(buf.remaining());
        buf.put_slice(&this.read[from..from + n]);
        this.kept.0 += n;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for RowSkipping<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// A session's switch to drop rows; a no-op on a session over a plain
/// socket.
#[derive(Debug, Clone, Default)]
pub struct Switch(Option<Arc<AtomicBool>>);

impl Switch {
    /// Drops every row the session is sent from now on. Set it between
    /// requests, once nothing on the session needs its rows.
    pub fn skip_rows(&self) {
        if let Some(s) = &self.0 {
            s.store(true, Ordering::Relaxed);
        }
    }

    /// Whether rows are dropped before tokio-postgres reads them.
    pub fn drops_rows(&self) -> bool {
        self.0.is_some()
    }
}

/// Opens a load client's session: over a [`RowSkipping`] socket when the
/// server is reached through a Unix-domain socket, else as any session.
/// Rows pass until [`Switch::skip_rows`].
pub async fn connect(db: &Endpoint) -> Result<(Client, Registration, Switch)> {
    let mut switch = None;
    let wrap = |socket| {
        let wrapped = RowSkipping::new(socket);
        switch = Some(wrapped.switch());
        wrapped
    };
    match db.connect_unix(wrap).await? {
        Some((client, cancel)) => Ok((client, cancel, Switch(switch))),
        None => {
            let (client, cancel) = db.connect_cancellable().await?;
            Ok((client, cancel, Switch::default()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A backend message: tag, length, body.
    fn message(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![tag];
        m.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
        m.extend_from_slice(body);
        m
    }

    /// An answer of `rows` rows: BindComplete, the rows, the command tag
    /// and ReadyForQuery.
    fn answer(rows: usize) -> (Vec<u8>, Vec<u8>) {
        let head = message(b'2', b"");
        let tail = [message(b'C', b"SELECT 3\0"), message(b'Z', b"I")].concat();
        let row = message(DATA_ROW, b"\0\x01\0\0\0\x05hello");
        let all = [head.clone(), row.repeat(rows), tail.clone()].concat();
        (all, [head, tail].concat())
    }

    /// Feeds `input` through a filter in chunks of `chunk` bytes.
    fn filtered(input: &[u8], chunk: usize, skip: bool) -> Vec<u8> {
        let mut f = Filter {
            at: At::Tag,
            skip_rows: Arc::new(AtomicBool::new(skip)),
        };
        let mut out = Vec::new();
        for piece in input.chunks(chunk) {
            let mut piece = piece.to_vec();
            let kept = f.apply(&mut piece);
            out.extend_from_slice(&piece[..kept]);
        }
        assert_eq!(f.at, At::Tag, "the filter ends between messages");
        out
    }

    #[test]
    fn rows_are_dropped_wherever_the_reads_split_them() {
        let (all, without_rows) = answer(3);
        for chunk in 1..=all.len() {
            assert_eq!(filtered(&all, chunk, true), without_rows, "chunk {chunk}");
        }
    }

    #[test]
    fn everything_passes_until_the_switch_is_set() {
        let (all, _) = answer(3);
        for chunk in [1, 2, 7, all.len()] {
            assert_eq!(filtered(&all, chunk, false), all, "chunk {chunk}");
        }
    }

    #[test]
    fn errors_notices_and_empty_messages_pass() {
        let error = message(b'E', b"SERROR\0C42P01\0Mno such table\0\0");
        let notice = message(b'N', b"SNOTICE\0Mhi\0\0");
        let input = [
            message(b'1', b""),
            notice.clone(),
            message(DATA_ROW, b"\0\0"),
            error.clone(),
            message(b'Z', b"I"),
        ]
        .concat();
        let expected = [message(b'1', b""), notice, error, message(b'Z', b"I")].concat();
        for chunk in 1..=input.len() {
            assert_eq!(filtered(&input, chunk, true), expected, "chunk {chunk}");
        }
    }

    proptest::proptest! {
        /// Any sequence of messages, split into reads anywhere, comes out
        /// as the same sequence without its rows.
        #[test]
        fn any_split_of_any_messages_drops_exactly_the_rows(
            messages in proptest::collection::vec(
                (proptest::sample::select(vec![DATA_ROW, b'C', b'Z', b'E', b'2', b'T']),
                 proptest::collection::vec(proptest::num::u8::ANY, 0..40)),
                0..30,
            ),
            cuts in proptest::collection::vec(1usize..64, 1..200),
        ) {
            let input: Vec<u8> = messages.iter().flat_map(|(t, b)| message(*t, b)).collect();
            let expected: Vec<u8> = messages
                .iter()
                .filter(|(t, _)| *t != DATA_ROW)
                .flat_map(|(t, b)| message(*t, b))
                .collect();
            let mut f = Filter { at: At::Tag, skip_rows: Arc::new(AtomicBool::new(true)) };
            let (mut out, mut from, mut k) = (Vec::new(), 0, 0);
            while from < input.len() {
                let to = (from + cuts[k % cuts.len()]).min(input.len());
                let mut piece = input[from..to].to_vec();
                let kept = f.apply(&mut piece);
                out.extend_from_slice(&piece[..kept]);
                (from, k) = (to, k + 1);
            }
            proptest::prop_assert_eq!(f.at, At::Tag);
            proptest::prop_assert_eq!(out, expected);
        }
    }

    #[tokio::test]
    async fn a_read_of_only_rows_waits_for_more_instead_of_ending() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (client, mut server) = tokio::io::duplex(64);
        let mut socket = RowSkipping::new(client);
        socket.switch().store(true, Ordering::Relaxed);
        let (all, without_rows) = answer(40);
        let writer = tokio::spawn(async move {
            for piece in all.chunks(10) {
                server.write_all(piece).await.unwrap();
            }
            server
        });
        let mut got = vec![0; without_rows.len()];
        socket.read_exact(&mut got).await.unwrap();
        assert_eq!(got, without_rows);
        drop(writer.await.unwrap());
        let mut rest = Vec::new();
        socket.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty(), "{rest:?}");
    }
}
