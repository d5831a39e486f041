//! The body of an answer: whole (its length known, sent with `Content-Length`),
//! or streamed: pieces handed over by a renderer while it still renders, so a
//! large `/metrics` body goes out as it is made (chunked) and never has to exist
//! whole in memory. A streamed body that ends without its end mark (the renderer
//! failed) ends in an error, so the client sees a broken answer, never a short
//! one.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Frame, SizeHint};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

/// What a renderer sends: a piece, or `None` once the body is complete.
pub type Piece = Option<Bytes>;

/// The renderer's end of a streamed body.
pub type PieceSender = UnboundedSender<Piece>;

/// The answering end of a streamed body.
pub type PieceReceiver = UnboundedReceiver<Piece>;

/// A channel for a streamed body. Unbounded, so that a renderer never waits for
/// a slow client (it would hold one of the few render threads): a client that
/// stops reading costs at most one body of memory, as a whole body would.
pub fn channel() -> (PieceSender, PieceReceiver) {
    unbounded_channel()
}

/// An answer's body.
#[derive(Debug)]
pub struct Body {
    /// Pieces ready to send, in order.
    ready: VecDeque<Bytes>,
    /// The rest of a streamed body, until its end mark.
    rest: Option<PieceReceiver>,
}

impl Body {
    /// A body of known length.
    pub fn whole(bytes: impl Into<Bytes>) -> Body {
        Body::pieces(vec![bytes.into()])
    }

    /// A body of known length, made of `pieces`.
    pub fn pieces(pieces: Vec<Bytes>) -> Body {
        Body {
            ready: pieces.into(),
            rest: None,
        }
    }

    /// A body starting with `first` and continuing with what `rest` receives
    /// until its end mark.
    pub fn streamed(first: Vec<Bytes>, rest: PieceReceiver) -> Body {
        Body {
            ready: first.into(),
            rest: Some(rest),
        }
    }
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        if let Some(piece) = self.ready.pop_front() {
            return Poll::Ready(Some(Ok(Frame::data(piece))));
        }
        let Some(rest) = self.rest.as_mut() else {
            return Poll::Ready(None);
        };
        match rest.poll_recv(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Some(piece))) => Poll::Ready(Some(Ok(Frame::data(piece)))),
            Poll::Ready(Some(None)) => {
                self.rest = None;
                Poll::Ready(None)
            }
            Poll::Ready(None) => {
                self.rest = None;
                Poll::Ready(Some(Err(io::Error::other(
                    "the body's renderer stopped before its end",
                ))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ready.is_empty() && self.rest.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        let ready: u64 = self.ready.iter().map(|b| b.len() as u64).sum();
        if self.rest.is_none() {
            SizeHint::with_exact(ready)
        } else {
            let mut hint = SizeHint::new();
            hint.set_lower(ready);
            hint
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt as _;

    async fn collect(body: Body) -> Result<Bytes, io::Error> {
        body.collect().await.map(|c| c.to_bytes())
    }

    fn run<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn a_whole_body_has_an_exact_length() {
        let body = Body::pieces(vec![Bytes::from("ab"), Bytes::from("cde")]);
        assert_eq!(hyper::body::Body::size_hint(&body).exact(), Some(5));
        assert_eq!(run(collect(body)).unwrap(), "abcde");
    }

    #[test]
    fn a_streamed_body_is_its_pieces_up_to_the_end_mark() {
        let (tx, rx) = channel();
        let body = Body::streamed(vec![Bytes::from("a")], rx);
        assert_eq!(hyper::body::Body::size_hint(&body).exact(), None);
        tx.send(Some(Bytes::from("b"))).unwrap();
        tx.send(None).unwrap();
        assert_eq!(run(collect(body)).unwrap(), "ab");
    }

    #[test]
    fn a_streamed_body_without_its_end_mark_fails() {
        let (tx, rx) = channel();
        let body = Body::streamed(vec![Bytes::from("a")], rx);
        tx.send(Some(Bytes::from("b"))).unwrap();
        drop(tx);
        assert!(run(collect(body)).is_err());
    }
}
