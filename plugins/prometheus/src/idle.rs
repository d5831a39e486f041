//! A connection's inactivity limit: [`Idle`] wraps a socket so that a client
//! that neither sends nor takes any byte for a while gets its connection closed.
//! It bounds a silent keep-alive connection, a client that stops reading halfway
//! through a large body, and a stalled TLS handshake alike. What the bytes mean
//! is not its business.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// A socket that fails with `TimedOut` once no read or write has made progress
/// for its limit.
pub struct Idle<T> {
    io: T,
    limit: Duration,
    deadline: Pin<Box<Sleep>>,
}

impl<T> Idle<T> {
    /// Wraps `io`; the clock starts now. Must be called inside a tokio runtime.
    pub fn new(io: T, limit: Duration) -> Idle<T> {
        Idle {
            io,
            limit,
            deadline: Box::pin(tokio::time::sleep(limit)),
        }
    }

    fn progressed(&mut self) {
        let next = Instant::now() + self.limit;
        self.deadline.as_mut().reset(next);
    }

    /// After the socket said `Pending`: an error once the limit has passed.
    fn check(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no data moved for {} s", self.limit.as_secs()),
            )),
            Poll::Pending => Poll::Pending,
        }
    }

    fn poll_io<R>(
        &mut self,
        cx: &mut Context<'_>,
        op: impl FnOnce(Pin<&mut T>, &mut Context<'_>) -> Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>>
    where
        T: Unpin,
    {
        match op(Pin::new(&mut self.io), cx) {
            Poll::Ready(r) => {
                self.progressed();
                Poll::Ready(r)
            }
            Poll::Pending => self.check(cx).map(Err),
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Idle<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.get_mut().poll_io(cx, |io, cx| io.poll_read(cx, buf))
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Idle<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_io(cx, |io, cx| io.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_io(cx, |io, cx| io.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_io(cx, |io, cx| io.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_io(cx, |io, cx| io.poll_shutdown(cx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn run<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn a_silent_peer_times_out_reads() {
        run(async {
            let (ours, _theirs) = tokio::io::duplex(64);
            let mut idle = Idle::new(ours, Duration::from_millis(20));
            let err = idle.read_u8().await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        });
    }

    #[test]
    fn a_peer_that_stops_reading_times_out_writes() {
        run(async {
            let (ours, _theirs) = tokio::io::duplex(64);
            let mut idle = Idle::new(ours, Duration::from_millis(20));
            let err = idle.write_all(&[0u8; 1024]).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        });
    }

    #[test]
    fn bytes_that_keep_coming_are_read_whole() {
        run(async {
            let (ours, mut theirs) = tokio::io::duplex(64);
            let mut idle = Idle::new(ours, Duration::from_secs(60));
            theirs.write_all(b"hello").await.unwrap();
            drop(theirs);
            let mut got = String::new();
            idle.read_to_string(&mut got).await.unwrap();
            assert_eq!(got, "hello");
        });
    }
}
