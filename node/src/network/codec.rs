//! The block-sync wire format: one length-prefixed frame per request and per
//! response (a 4-byte big-endian length, then that many bytes).
//!
//! The codec caps its own frames: a length above the limit is refused before
//! anything is read, and the buffer grows only as bytes actually arrive, so a
//! peer announcing a large frame and sending nothing costs us nothing. What
//! the bytes mean is the application's business, not this module's.

use std::fmt;
use std::io;

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;
use libp2p::request_response;

/// The block-sync protocol name.
pub(crate) const SYNC_PROTOCOL: StreamProtocol = StreamProtocol::new("/clearhouse/sync/1");

/// Which frame of the exchange a [`FrameTooLarge`] concerns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FrameKind {
    Request,
    Response,
}

/// A frame over its limit, carried inside an `io::Error` so that the event
/// loop can tell it apart from other stream failures.
#[derive(Debug)]
pub(crate) struct FrameTooLarge {
    pub(crate) kind: FrameKind,
    pub(crate) size: usize,
    pub(crate) limit: usize,
}

impl fmt::Display for FrameTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} frame of {} bytes exceeds the limit of {} bytes",
            self.kind, self.size, self.limit
        )
    }
}

impl std::error::Error for FrameTooLarge {}

/// Finds a [`FrameTooLarge`] inside an `io::Error`, if that is what it is.
pub(crate) fn frame_too_large(error: &io::Error) -> Option<&FrameTooLarge> {
    error.get_ref()?.downcast_ref::<FrameTooLarge>()
}

/// Length-prefixed frames with a byte limit per direction.
#[derive(Clone, Debug)]
pub(crate) struct SyncCodec {
    pub(crate) request_bytes_max: usize,
    pub(crate) response_bytes_max: usize,
}

impl SyncCodec {
    async fn read_frame<T>(io: &mut T, kind: FrameKind, limit: usize) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        let mut prefix = [0u8; 4];
        io.read_exact(&mut prefix).await?;
        let size = usize::try_from(u32::from_be_bytes(prefix)).unwrap_or(usize::MAX);
        if size > limit {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                FrameTooLarge { kind, size, limit },
            ));
        }
        let mut frame = Vec::new();
        // `size <= limit`, and limits are far below u64::MAX.
        let size_u64 = u64::try_from(size).unwrap_or(u64::MAX);
        io.take(size_u64).read_to_end(&mut frame).await?;
        if frame.len() != size {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{kind:?} frame truncated: {} of {size} bytes", frame.len()),
            ));
        }
        Ok(frame)
    }

    async fn write_frame<T>(
        io: &mut T,
        kind: FrameKind,
        limit: usize,
        frame: &[u8],
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        let size = frame.len();
        let too_large = || {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                FrameTooLarge { kind, size, limit },
            )
        };
        if size > limit {
            return Err(too_large());
        }
        let prefix = u32::try_from(size).map_err(|_| too_large())?.to_be_bytes();
        io.write_all(&prefix).await?;
        io.write_all(frame).await?;
        io.flush().await
    }
}

impl request_response::Codec for SyncCodec {
    type Protocol = StreamProtocol;
    type Request = Vec<u8>;
    type Response = Vec<u8>;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        Self::read_frame(io, FrameKind::Request, self.request_bytes_max).await
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        Self::read_frame(io, FrameKind::Response, self.response_bytes_max).await
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        request: Vec<u8>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        Self::write_frame(io, FrameKind::Request, self.request_bytes_max, &request).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        response: Vec<u8>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        Self::write_frame(io, FrameKind::Response, self.response_bytes_max, &response).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;
    use futures::io::Cursor;
    use libp2p::request_response::Codec;

    fn codec() -> SyncCodec {
        SyncCodec {
            request_bytes_max: 8,
            response_bytes_max: 16,
        }
    }

    #[test]
    fn a_frame_round_trips() {
        block_on(async {
            let mut wire = Cursor::new(Vec::new());
            codec()
                .write_request(&SYNC_PROTOCOL, &mut wire, b"height".to_vec())
                .await
                .unwrap();
            assert_eq!(wire.get_ref()[..4], [0, 0, 0, 6]);
            wire.set_position(0);
            let read = codec()
                .read_request(&SYNC_PROTOCOL, &mut wire)
                .await
                .unwrap();
            assert_eq!(read, b"height");
        });
    }

    #[test]
    fn an_announced_length_over_the_limit_is_refused_before_reading() {
        block_on(async {
            let mut wire = Cursor::new(vec![0xff, 0xff, 0xff, 0xff]);
            let error = codec()
                .read_response(&SYNC_PROTOCOL, &mut wire)
                .await
                .unwrap_err();
            let too_large = frame_too_large(&error).unwrap();
            assert_eq!(too_large.kind, FrameKind::Response);
            assert_eq!(too_large.limit, 16);
        });
    }

    #[test]
    fn a_truncated_frame_is_an_error() {
        block_on(async {
            let mut wire = Cursor::new(vec![0, 0, 0, 5, 1, 2]);
            let error = codec()
                .read_request(&SYNC_PROTOCOL, &mut wire)
                .await
                .unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
        });
    }

    #[test]
    fn writing_over_the_limit_is_refused() {
        block_on(async {
            let mut wire = Cursor::new(Vec::new());
            let error = codec()
                .write_request(&SYNC_PROTOCOL, &mut wire, vec![0; 9])
                .await
                .unwrap_err();
            assert!(frame_too_large(&error).is_some());
            assert!(wire.get_ref().is_empty());
        });
    }
}
