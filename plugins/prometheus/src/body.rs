//! The body of an answer: whole (its length known, sent with `Content-Length`),
//! or streamed: pieces pulled from a renderer as the connection takes them, so
//! a large `/metrics` body is rendered while it goes out (chunked), never has
//! to exist whole in memory, and never piles up in front of a slow client. A
//! streamed body whose renderer fails ends in an error, so the client sees a
//! broken answer, never a short one.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Frame, SizeHint};

/// What renders the rest of a streamed body, one piece per call.
pub trait Render: Send + 'static {
    /// The next piece, or `None` once the body is complete. A call renders a
    /// piece of tens of kilobytes: short enough to run on the connection's
    /// task.
    fn next_piece(&mut self) -> io::Result<Option<Bytes>>;
}

/// An answer's body.
pub struct Body {
    /// Pieces ready to send, in order.
    ready: VecDeque<Bytes>,
    /// What renders the rest of a streamed body, until it is complete.
    rest: Option<Box<dyn Render>>,
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

    /// A body starting with `first` and continuing with what `rest` renders,
    /// piece by piece as the connection asks for them.
    pub fn streamed(first: Vec<Bytes>, rest: Box<dyn Render>) -> Body {
        Body {
            ready: first.into(),
            rest: Some(rest),
        }
    }
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Body")
            .field("ready", &self.ready.len())
            .field("streamed", &self.rest.is_some())
            .finish()
    }
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        if let Some(piece) = self.ready.pop_front() {
            return Poll::Ready(Some(Ok(Frame::data(piece))));
        }
        let Some(rest) = self.rest.as_mut() else {
            return Poll::Ready(None);
        };
        match rest.next_piece() {
            Ok(Some(piece)) => Poll::Ready(Some(Ok(Frame::data(piece)))),
            Ok(None) => {
                self.rest = None;
                Poll::Ready(None)
            }
            Err(e) => {
                self.rest = None;
                Poll::Ready(Some(Err(e)))
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

    /// Renders the pieces it was given, then fails if told to.
    struct Given(VecDeque<&'static str>, bool);

    impl Render for Given {
        fn next_piece(&mut self) -> io::Result<Option<Bytes>> {
            match self.0.pop_front() {
                Some(p) => Ok(Some(Bytes::from(p))),
                None if self.1 => Err(io::Error::other("render failed")),
                None => Ok(None),
            }
        }
    }

    #[test]
    fn a_streamed_body_is_its_first_pieces_then_what_is_rendered() {
        let rest = Given(["b", "c"].into(), false);
        let body = Body::streamed(vec![Bytes::from("a")], Box::new(rest));
        assert_eq!(hyper::body::Body::size_hint(&body).exact(), None);
        assert_eq!(run(collect(body)).unwrap(), "abc");
    }

    #[test]
    fn a_streamed_body_whose_renderer_fails_fails() {
        let rest = Given(["b"].into(), true);
        let body = Body::streamed(vec![Bytes::from("a")], Box::new(rest));
        assert!(run(collect(body)).is_err());
    }
}
