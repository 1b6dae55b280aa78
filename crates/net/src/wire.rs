//! The sync/status protocol's wire format (`/aergo/sync/1.0.0`).
//!
//! One request and one response per libp2p stream. Each is one frame:
//!
//! ```text
//! frame    = length:u32be body            (length = body size, bounded)
//! request  = 0x01 status                  "here is my status, send yours"
//!          | 0x02 from:u64be count:u32be max_bytes:u32be
//!          | 0x03 len:u32be txs           forwarded transactions (opaque
//!                                         here; the node sends a TxList)
//!          | 0x04 key:32 offset:u64be len:u32be
//!                                         a piece of an AergoFS file
//! response = 0x81 status
//!          | 0x82 n:u32be n * (len:u32be bytes)
//!          | 0x83 len:u32be answer        what became of them
//!          | 0x84 size:u64be ct_len:u8 ct len:u32be bytes
//!                                         the piece, the file's size and
//!                                         content type
//!          | 0x85                         "no such file here"
//!          | 0x8f code:u8                 refusal (see [`Refusal`])
//! status   = chain_id_hash:32 genesis_hash:32 best_height:u64be
//!            best_hash:32 lib_height:u64be                 (112 bytes)
//! ```
//!
//! Decoding trusts nothing: the frame length is checked against the limit
//! before anything is read past it, every inner length against the bytes
//! actually left, counts against the configured maximum, and trailing bytes
//! are an error. The body is read incrementally, so a peer that announces a
//! large frame and sends little makes us allocate only what it sent.

use crate::error::WireError;
use aergo_types::Hash;
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;
use std::io;

/// The protocol name negotiated on each stream.
pub const SYNC_PROTOCOL: StreamProtocol = StreamProtocol::new("/aergo/sync/1.0.0");

/// Size of the frame header (the body length).
pub const FRAME_HEADER_BYTES: usize = 4;
/// Largest fixed-size request body (status and blocks requests).
pub const MAX_REQUEST_BODY_BYTES: usize = 1 + STATUS_BYTES;
/// Largest payload a forward request carries (a batch of transactions;
/// one transaction's own bound, 200 KiB, fits with room to spare).
pub const MAX_FORWARD_BYTES: usize = 256 * 1024;
/// Largest request frame read: a forward request with its transaction.
pub const MAX_REQUEST_FRAME_BYTES: usize = 1 + 4 + MAX_FORWARD_BYTES;
/// Largest answer to a forward request (a pre-confirmation, or why not).
pub const MAX_FORWARD_ANSWER_BYTES: usize = 512 * 1024;
/// Largest piece of a file one request asks for (and one answer
/// carries): files move in pieces so that no message holds a whole file.
pub const MAX_FILE_PIECE_BYTES: usize = 1 << 20;
/// Longest content type a piece answer carries (AergoFS's own bound).
pub const MAX_CONTENT_TYPE_BYTES: usize = 127;
/// Largest file piece answer: kind, size, content type, length, bytes.
pub const MAX_FILE_PIECE_RESPONSE_BYTES: usize = 1 + 8 + 1 + MAX_CONTENT_TYPE_BYTES + 4 + MAX_FILE_PIECE_BYTES;
/// Encoded size of a [`PeerStatus`].
pub const STATUS_BYTES: usize = 32 + 32 + 8 + 32 + 8;
/// Per-block overhead in a blocks response (its length prefix).
pub const BLOCK_ENTRY_OVERHEAD_BYTES: usize = 4;
/// Fixed overhead of a blocks response (kind byte and count).
pub const BLOCKS_RESPONSE_OVERHEAD_BYTES: usize = 1 + 4;

const REQ_STATUS: u8 = 0x01;
const REQ_BLOCKS: u8 = 0x02;
const REQ_FORWARD: u8 = 0x03;
const REQ_FILE_PIECE: u8 = 0x04;
const RESP_STATUS: u8 = 0x81;
const RESP_BLOCKS: u8 = 0x82;
const RESP_FORWARDED: u8 = 0x83;
const RESP_FILE_PIECE: u8 = 0x84;
const RESP_NO_FILE: u8 = 0x85;
const RESP_REFUSED: u8 = 0x8f;

/// What a node says about itself: exchanged right after connecting (the
/// handshake) and on demand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct PeerStatus {
    /// SHA-256 of the chain id bytes: peers on another chain are refused.
    pub chain_id_hash: Hash,
    /// Hash of the genesis block: peers with another genesis are refused.
    pub genesis_hash: Hash,
    /// Height of the best (head) block.
    pub best_height: u64,
    /// Hash of the best block.
    pub best_hash: Hash,
    /// Height of the last irreversible block (never above `best_height`).
    pub lib_height: u64,
}

/// A request on the sync protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyncRequest {
    /// The requester's status; the answer is the responder's status.
    Status(PeerStatus),
    /// Up to `max_count` consecutive blocks starting at `from_height`,
    /// at most `max_bytes` of block bytes in total.
    Blocks { from_height: u64, max_count: u32, max_bytes: u32 },
    /// Transactions (the node sends an encoded batch) for the responder
    /// to take as if a client sent them, answering with what it made of
    /// them (a follower forwards to the producer that can pre-confirm
    /// them). The bytes are opaque here.
    Forward(Vec<u8>),
    /// Bytes `[offset, offset + len)` of the AergoFS file whose SHA-256 is
    /// `key` (`len` at most [`MAX_FILE_PIECE_BYTES`]).
    FilePiece { key: Hash, offset: u64, len: u32 },
}

/// A piece of a file as a responder sends it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilePiece {
    /// The whole file's size.
    pub size: u64,
    /// Its content type (printable ASCII, at most
    /// [`MAX_CONTENT_TYPE_BYTES`]).
    pub content_type: String,
    /// The bytes asked for: all of them, or up to the end of the file.
    pub bytes: Vec<u8>,
}

/// Why a responder refused a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The requester sends requests faster than the responder allows.
    RateLimited,
    /// The responder has too many requests in progress.
    Busy,
    /// The status handshake has not completed yet.
    NotReady,
    /// The request was well-formed but not acceptable.
    BadRequest,
    /// The block provider failed.
    Unavailable,
    /// A code this version does not know (kept for forward compatibility).
    Other(u8),
}

impl Refusal {
    fn code(self) -> u8 {
        match self {
            Refusal::RateLimited => 1,
            Refusal::Busy => 2,
            Refusal::NotReady => 3,
            Refusal::BadRequest => 4,
            Refusal::Unavailable => 5,
            Refusal::Other(c) => c,
        }
    }

    fn from_code(code: u8) -> Refusal {
        match code {
            1 => Refusal::RateLimited,
            2 => Refusal::Busy,
            3 => Refusal::NotReady,
            4 => Refusal::BadRequest,
            5 => Refusal::Unavailable,
            c => Refusal::Other(c),
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::RateLimited => write!(f, "rate limited"),
            Refusal::Busy => write!(f, "busy"),
            Refusal::NotReady => write!(f, "handshake not complete"),
            Refusal::BadRequest => write!(f, "bad request"),
            Refusal::Unavailable => write!(f, "blocks unavailable"),
            Refusal::Other(c) => write!(f, "unknown refusal code {c}"),
        }
    }
}

/// A response on the sync protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyncResponse {
    Status(PeerStatus),
    /// Encoded blocks, in height order (the network does not decode them).
    Blocks(Vec<Vec<u8>>),
    /// The answer to a forwarded transaction (opaque here).
    Forwarded(Vec<u8>),
    /// A piece of a file.
    FilePiece(FilePiece),
    /// The responder does not hold the file asked for.
    NoFile,
    Refused(Refusal),
}

/// A cursor over untrusted bytes: every read checks what is left.
struct Reader<'a> {
    bytes: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if n > self.bytes.len() {
            return Err(WireError::Truncated { what: self.what, needed: n, available: self.bytes.len() });
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, WireError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, WireError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    /// A u32 length, then that many bytes (at most `max`).
    fn sized_bytes(&mut self, what: &'static str, max: usize) -> Result<Vec<u8>, WireError> {
        let len = self.u32()? as usize;
        if len > max {
            return Err(WireError::Invalid { what, reason: format!("{len} bytes, at most {max}") });
        }
        Ok(self.take(len)?.to_vec())
    }

    fn hash(&mut self) -> Result<Hash, WireError> {
        let b = self.take(32)?;
        let mut a = [0u8; 32];
        a.copy_from_slice(b);
        Ok(Hash(a))
    }

    fn finish(self) -> Result<(), WireError> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(WireError::Trailing { what: self.what, found: self.bytes.len() })
        }
    }
}

fn put_status(out: &mut Vec<u8>, s: &PeerStatus) {
    out.extend_from_slice(&s.chain_id_hash.0);
    out.extend_from_slice(&s.genesis_hash.0);
    out.extend_from_slice(&s.best_height.to_be_bytes());
    out.extend_from_slice(&s.best_hash.0);
    out.extend_from_slice(&s.lib_height.to_be_bytes());
}

fn get_status(r: &mut Reader<'_>) -> Result<PeerStatus, WireError> {
    let s = PeerStatus {
        chain_id_hash: r.hash()?,
        genesis_hash: r.hash()?,
        best_height: r.u64()?,
        best_hash: r.hash()?,
        lib_height: r.u64()?,
    };
    if s.lib_height > s.best_height {
        return Err(WireError::Invalid {
            what: "status",
            reason: format!("lib height {} above best height {}", s.lib_height, s.best_height),
        });
    }
    Ok(s)
}

/// Encodes a request body (without the frame header).
pub fn encode_request(req: &SyncRequest) -> Vec<u8> {
    let mut out = Vec::with_capacity(MAX_REQUEST_BODY_BYTES);
    match req {
        SyncRequest::Status(s) => {
            out.push(REQ_STATUS);
            put_status(&mut out, s);
        }
        SyncRequest::Blocks { from_height, max_count, max_bytes } => {
            out.push(REQ_BLOCKS);
            out.extend_from_slice(&from_height.to_be_bytes());
            out.extend_from_slice(&max_count.to_be_bytes());
            out.extend_from_slice(&max_bytes.to_be_bytes());
        }
        SyncRequest::Forward(tx) => put_sized(&mut out, REQ_FORWARD, tx),
        SyncRequest::FilePiece { key, offset, len } => {
            out.push(REQ_FILE_PIECE);
            out.extend_from_slice(&key.0);
            out.extend_from_slice(&offset.to_be_bytes());
            out.extend_from_slice(&len.to_be_bytes());
        }
    }
    out
}

/// Decodes a request body. Never panics, whatever the bytes.
pub fn decode_request(body: &[u8]) -> Result<SyncRequest, WireError> {
    let mut r = Reader { bytes: body, what: "request" };
    let req = match r.u8()? {
        REQ_STATUS => SyncRequest::Status(get_status(&mut r)?),
        REQ_BLOCKS => SyncRequest::Blocks { from_height: r.u64()?, max_count: r.u32()?, max_bytes: r.u32()? },
        REQ_FORWARD => SyncRequest::Forward(r.sized_bytes("forward request", MAX_FORWARD_BYTES)?),
        REQ_FILE_PIECE => {
            let (key, offset, len) = (r.hash()?, r.u64()?, r.u32()?);
            if len as usize > MAX_FILE_PIECE_BYTES {
                return Err(WireError::Invalid {
                    what: "file piece request",
                    reason: format!("{len} bytes asked for, at most {MAX_FILE_PIECE_BYTES}"),
                });
            }
            SyncRequest::FilePiece { key, offset, len }
        }
        kind => return Err(WireError::UnknownKind { what: "request", kind }),
    };
    r.finish()?;
    Ok(req)
}

/// Encodes a response body (without the frame header).
pub fn encode_response(resp: &SyncResponse) -> Vec<u8> {
    match resp {
        SyncResponse::Status(s) => {
            let mut out = Vec::with_capacity(1 + STATUS_BYTES);
            out.push(RESP_STATUS);
            put_status(&mut out, s);
            out
        }
        SyncResponse::Blocks(blocks) => {
            let size: usize = BLOCKS_RESPONSE_OVERHEAD_BYTES
                + blocks.iter().map(|b| BLOCK_ENTRY_OVERHEAD_BYTES + b.len()).sum::<usize>();
            let mut out = Vec::with_capacity(size);
            out.push(RESP_BLOCKS);
            out.extend_from_slice(&len_u32(blocks.len()).to_be_bytes());
            for b in blocks {
                out.extend_from_slice(&len_u32(b.len()).to_be_bytes());
                out.extend_from_slice(b);
            }
            out
        }
        SyncResponse::Forwarded(answer) => {
            let mut out = Vec::with_capacity(1 + 4 + answer.len());
            put_sized(&mut out, RESP_FORWARDED, answer);
            out
        }
        SyncResponse::FilePiece(p) => {
            let ct = p.content_type.as_bytes();
            let ct = &ct[..ct.len().min(MAX_CONTENT_TYPE_BYTES)];
            let mut out = Vec::with_capacity(1 + 8 + 1 + ct.len() + 4 + p.bytes.len());
            out.push(RESP_FILE_PIECE);
            out.extend_from_slice(&p.size.to_be_bytes());
            out.push(ct.len() as u8);
            out.extend_from_slice(ct);
            out.extend_from_slice(&len_u32(p.bytes.len()).to_be_bytes());
            out.extend_from_slice(&p.bytes);
            out
        }
        SyncResponse::NoFile => vec![RESP_NO_FILE],
        SyncResponse::Refused(code) => vec![RESP_REFUSED, code.code()],
    }
}

/// `kind`, a u32 length, the bytes.
fn put_sized(out: &mut Vec<u8>, kind: u8, bytes: &[u8]) {
    out.push(kind);
    out.extend_from_slice(&len_u32(bytes.len()).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// Lengths we encode are bounded by the response limit (far below 4 GiB);
/// saturating keeps a would-be overflow a decode error on the other side
/// rather than a panic here.
fn len_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Decodes a response body, accepting at most `max_blocks` blocks. Never
/// panics, whatever the bytes.
pub fn decode_response(body: &[u8], max_blocks: u32) -> Result<SyncResponse, WireError> {
    let mut r = Reader { bytes: body, what: "response" };
    let resp = match r.u8()? {
        RESP_STATUS => SyncResponse::Status(get_status(&mut r)?),
        RESP_BLOCKS => {
            let count = r.u32()?;
            if count > max_blocks {
                return Err(WireError::TooManyBlocks { count: u64::from(count), max: max_blocks });
            }
            // Each entry needs at least its length prefix: a count the
            // remaining bytes cannot hold is rejected before allocating.
            let min_needed = (count as usize).saturating_mul(BLOCK_ENTRY_OVERHEAD_BYTES);
            if min_needed > r.bytes.len() {
                return Err(WireError::Truncated { what: "block list", needed: min_needed, available: r.bytes.len() });
            }
            let mut blocks = Vec::with_capacity(count as usize);
            for _ in 0..count {
                let len = r.u32()? as usize;
                blocks.push(r.take(len)?.to_vec());
            }
            SyncResponse::Blocks(blocks)
        }
        RESP_REFUSED => SyncResponse::Refused(Refusal::from_code(r.u8()?)),
        RESP_FORWARDED => SyncResponse::Forwarded(r.sized_bytes("forward answer", MAX_FORWARD_ANSWER_BYTES)?),
        RESP_FILE_PIECE => {
            let size = r.u64()?;
            let ct_len = usize::from(r.u8()?);
            if ct_len > MAX_CONTENT_TYPE_BYTES {
                return Err(WireError::Invalid {
                    what: "file piece",
                    reason: format!("content type of {ct_len} bytes, at most {MAX_CONTENT_TYPE_BYTES}"),
                });
            }
            let ct = r.take(ct_len)?;
            if !ct.iter().all(|b| (0x20..0x7f).contains(b)) {
                return Err(WireError::Invalid {
                    what: "file piece",
                    reason: "content type is not printable ASCII".into(),
                });
            }
            let content_type = String::from_utf8_lossy(ct).into_owned();
            let bytes = r.sized_bytes("file piece", MAX_FILE_PIECE_BYTES)?;
            SyncResponse::FilePiece(FilePiece { size, content_type, bytes })
        }
        RESP_NO_FILE => SyncResponse::NoFile,
        kind => return Err(WireError::UnknownKind { what: "response", kind }),
    };
    r.finish()?;
    Ok(resp)
}

fn invalid_data(e: WireError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// Reads one frame of at most `max_body_bytes`. Oversized frames are
/// refused on their header; the body is read as it arrives.
pub async fn read_frame<T: AsyncRead + Unpin + Send>(io: &mut T, max_body_bytes: usize) -> io::Result<Vec<u8>> {
    let mut header = [0u8; FRAME_HEADER_BYTES];
    io.read_exact(&mut header).await?;
    let len = u32::from_be_bytes(header) as usize;
    if len > max_body_bytes {
        return Err(invalid_data(WireError::FrameTooLarge { size_bytes: len as u64, max_bytes: max_body_bytes }));
    }
    let mut body = Vec::with_capacity(len.min(64 * 1024));
    io.take(len as u64).read_to_end(&mut body).await?;
    if body.len() != len {
        return Err(invalid_data(WireError::Truncated { what: "frame", needed: len, available: body.len() }));
    }
    Ok(body)
}

/// Writes one frame.
pub async fn write_frame<T: AsyncWrite + Unpin + Send>(io: &mut T, body: &[u8]) -> io::Result<()> {
    let len = u32::try_from(body.len()).map_err(|_| {
        invalid_data(WireError::FrameTooLarge { size_bytes: body.len() as u64, max_bytes: u32::MAX as usize })
    })?;
    io.write_all(&len.to_be_bytes()).await?;
    io.write_all(body).await?;
    io.flush().await
}

/// True when an I/O error is a decoding failure of ours (the peer sent
/// malformed or oversized data) rather than a transport failure.
pub fn is_wire_error(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::InvalidData && e.get_ref().is_some_and(|inner| inner.is::<WireError>())
}

/// Turns an I/O error back into the [`WireError`] it carries, if it is one.
pub fn take_wire_error(e: io::Error) -> Result<WireError, io::Error> {
    if !is_wire_error(&e) {
        return Err(e);
    }
    let kind = e.kind();
    match e.into_inner().map(|inner| inner.downcast::<WireError>()) {
        Some(Ok(w)) => Ok(*w),
        Some(Err(inner)) => Err(io::Error::new(kind, inner)),
        None => Err(io::Error::from(kind)),
    }
}

/// An inbound request as the codec hands it over: decoded, or the reason
/// it did not decode. Malformed requests are delivered rather than failed
/// because libp2p reports a failed request read to nobody, and the sender
/// must be penalised (and answered with a refusal).
pub type InboundRequest = Result<SyncRequest, WireError>;

/// libp2p request-response codec for [`SYNC_PROTOCOL`], with the response
/// limits of this node.
#[derive(Clone, Debug)]
pub struct SyncCodec {
    /// Largest response frame body accepted.
    pub max_response_body_bytes: usize,
    /// Most blocks accepted in one response.
    pub max_blocks: u32,
}

impl libp2p::request_response::Codec for SyncCodec {
    type Protocol = StreamProtocol;
    type Request = InboundRequest;
    type Response = SyncResponse;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<InboundRequest>
    where
        T: AsyncRead + Unpin + Send,
    {
        match read_frame(io, MAX_REQUEST_FRAME_BYTES).await {
            Ok(body) => Ok(decode_request(&body)),
            Err(e) => take_wire_error(e).map(Err),
        }
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<SyncResponse>
    where
        T: AsyncRead + Unpin + Send,
    {
        let body = read_frame(io, self.max_response_body_bytes).await?;
        decode_response(&body, self.max_blocks).map_err(invalid_data)
    }

    async fn write_request<T>(&mut self, _: &StreamProtocol, io: &mut T, req: InboundRequest) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        match req {
            Ok(req) => write_frame(io, &encode_request(&req)).await,
            Err(e) => Err(io::Error::new(io::ErrorKind::InvalidInput, e)),
        }
    }

    async fn write_response<T>(&mut self, _: &StreamProtocol, io: &mut T, resp: SyncResponse) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &encode_response(&resp)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn status(seed: u8) -> PeerStatus {
        PeerStatus {
            chain_id_hash: Hash([seed; 32]),
            genesis_hash: Hash([seed.wrapping_add(1); 32]),
            best_height: 1000 + u64::from(seed),
            best_hash: Hash([seed.wrapping_add(2); 32]),
            lib_height: 990,
        }
    }

    #[test]
    fn golden_status_request_bytes() {
        // Consensus of the wire format between versions: pin the layout.
        let s = PeerStatus {
            chain_id_hash: Hash([0x11; 32]),
            genesis_hash: Hash([0x22; 32]),
            best_height: 0x0102_0304_0506_0708,
            best_hash: Hash([0x33; 32]),
            lib_height: 0x0a,
        };
        let bytes = encode_request(&SyncRequest::Status(s));
        let mut want = vec![0x01];
        want.extend_from_slice(&[0x11; 32]);
        want.extend_from_slice(&[0x22; 32]);
        want.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        want.extend_from_slice(&[0x33; 32]);
        want.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0x0a]);
        assert_eq!(bytes, want);
        assert_eq!(bytes.len(), MAX_REQUEST_BODY_BYTES);
        assert_eq!(decode_request(&bytes), Ok(SyncRequest::Status(s)));
    }

    #[test]
    fn golden_blocks_bytes() {
        let req = SyncRequest::Blocks { from_height: 5, max_count: 2, max_bytes: 300 };
        assert_eq!(encode_request(&req), vec![0x02, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 2, 0, 0, 0x01, 0x2c]);
        let resp = SyncResponse::Blocks(vec![vec![0xaa], vec![]]);
        assert_eq!(encode_response(&resp), vec![0x82, 0, 0, 0, 2, 0, 0, 0, 1, 0xaa, 0, 0, 0, 0]);
        assert_eq!(encode_response(&SyncResponse::Refused(Refusal::Busy)), vec![0x8f, 2]);
    }

    #[test]
    fn rejects_bad_inputs_with_reasons() {
        assert!(matches!(decode_request(&[]), Err(WireError::Truncated { .. })));
        assert!(matches!(decode_request(&[0x7f]), Err(WireError::UnknownKind { kind: 0x7f, .. })));
        let mut req = encode_request(&SyncRequest::Blocks { from_height: 1, max_count: 1, max_bytes: 1 });
        req.push(0);
        assert!(matches!(decode_request(&req), Err(WireError::Trailing { found: 1, .. })));
        // lib above best
        let mut s = status(1);
        s.lib_height = s.best_height + 1;
        let bytes = encode_response(&SyncResponse::Status(s));
        assert!(matches!(decode_response(&bytes, 10), Err(WireError::Invalid { .. })));
        // more blocks than allowed
        let bytes = encode_response(&SyncResponse::Blocks(vec![vec![1]; 3]));
        assert_eq!(decode_response(&bytes, 2), Err(WireError::TooManyBlocks { count: 3, max: 2 }));
        // a count the remaining bytes cannot hold is refused before allocating
        let bytes = [0x82, 0xff, 0xff, 0xff, 0xff];
        assert!(matches!(decode_response(&bytes, u32::MAX), Err(WireError::Truncated { .. })));
        // a block length past the end
        let bytes = [0x82, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 1, 2];
        assert!(matches!(decode_response(&bytes, 10), Err(WireError::Truncated { .. })));
        assert_eq!(decode_response(&[0x8f, 0x42], 1), Ok(SyncResponse::Refused(Refusal::Other(0x42))));
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        futures::executor::block_on(f)
    }

    #[test]
    fn frames_are_bounded_and_complete() {
        let mut buf = Vec::new();
        block_on(write_frame(&mut futures::io::Cursor::new(&mut buf), &[1, 2, 3])).expect("write to memory");
        assert_eq!(buf, vec![0, 0, 0, 3, 1, 2, 3]);
        let body = block_on(read_frame(&mut futures::io::Cursor::new(buf.clone()), 3)).expect("fits");
        assert_eq!(body, vec![1, 2, 3]);
        let err = block_on(read_frame(&mut futures::io::Cursor::new(buf.clone()), 2)).expect_err("too large");
        assert!(is_wire_error(&err), "{err}");
        assert_eq!(take_wire_error(err).ok(), Some(WireError::FrameTooLarge { size_bytes: 3, max_bytes: 2 }));
        let eof = io::Error::from(io::ErrorKind::UnexpectedEof);
        assert!(take_wire_error(eof).is_err(), "transport errors stay I/O errors");
        // The header promises 3 bytes, 2 arrive: an error, not a hang.
        let err = block_on(read_frame(&mut futures::io::Cursor::new(buf[..6].to_vec()), 10)).expect_err("short");
        assert!(is_wire_error(&err), "{err}");
        // A 4 GiB promise with nothing behind it allocates nothing big.
        let err = block_on(read_frame(&mut futures::io::Cursor::new(vec![0xff, 0xff, 0xff, 0xff]), usize::MAX))
            .expect_err("eof");
        assert!(is_wire_error(&err), "{err}");
    }

    fn arb_status() -> impl Strategy<Value = PeerStatus> {
        (any::<[u8; 32]>(), any::<[u8; 32]>(), any::<u64>(), any::<[u8; 32]>(), any::<u64>()).prop_map(
            |(c, g, best, h, lib)| PeerStatus {
                chain_id_hash: Hash(c),
                genesis_hash: Hash(g),
                best_height: best.max(lib),
                best_hash: Hash(h),
                lib_height: lib.min(best),
            },
        )
    }

    fn arb_request() -> impl Strategy<Value = SyncRequest> {
        prop_oneof![
            arb_status().prop_map(SyncRequest::Status),
            (any::<u64>(), any::<u32>(), any::<u32>()).prop_map(|(f, c, b)| SyncRequest::Blocks {
                from_height: f,
                max_count: c,
                max_bytes: b
            }),
            proptest::collection::vec(any::<u8>(), 0..300).prop_map(SyncRequest::Forward),
            (any::<[u8; 32]>(), any::<u64>(), 0..=MAX_FILE_PIECE_BYTES as u32)
                .prop_map(|(k, offset, len)| { SyncRequest::FilePiece { key: Hash(k), offset, len } }),
        ]
    }

    fn arb_response() -> impl Strategy<Value = SyncResponse> {
        prop_oneof![
            arb_status().prop_map(SyncResponse::Status),
            proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..8)
                .prop_map(SyncResponse::Blocks),
            (1u8..=5).prop_map(|c| SyncResponse::Refused(Refusal::from_code(c))),
            proptest::collection::vec(any::<u8>(), 0..300).prop_map(SyncResponse::Forwarded),
            (any::<u64>(), "[ -~]{0,127}", proptest::collection::vec(any::<u8>(), 0..300)).prop_map(
                |(size, content_type, bytes)| SyncResponse::FilePiece(FilePiece { size, content_type, bytes })
            ),
            Just(SyncResponse::NoFile),
        ]
    }

    #[test]
    fn file_piece_frames_are_bounded() {
        let over = SyncRequest::FilePiece { key: Hash([7; 32]), offset: 0, len: MAX_FILE_PIECE_BYTES as u32 + 1 };
        assert!(decode_request(&encode_request(&over)).unwrap_err().to_string().contains("at most"));
        let mut big = vec![RESP_FILE_PIECE];
        big.extend_from_slice(&10u64.to_be_bytes());
        big.push(0);
        big.extend_from_slice(&(MAX_FILE_PIECE_BYTES as u32 + 1).to_be_bytes());
        assert!(decode_response(&big, 8).is_err());
        // A content type longer than AergoFS keeps, or not printable.
        let mut long_ct = vec![RESP_FILE_PIECE];
        long_ct.extend_from_slice(&10u64.to_be_bytes());
        long_ct.push(128);
        assert!(decode_response(&long_ct, 8).is_err());
        let mut ctl = vec![RESP_FILE_PIECE];
        ctl.extend_from_slice(&10u64.to_be_bytes());
        ctl.extend_from_slice(&[1, b'\n', 0, 0, 0, 0]);
        assert!(decode_response(&ctl, 8).is_err());
        assert_eq!(decode_response(&[RESP_NO_FILE], 8), Ok(SyncResponse::NoFile));
        assert!(decode_response(&[RESP_NO_FILE, 0], 8).is_err());
    }

    #[test]
    fn forward_frames_are_bounded() {
        let mut big = vec![REQ_FORWARD];
        big.extend_from_slice(&(MAX_FORWARD_BYTES as u32 + 1).to_be_bytes());
        assert!(decode_request(&big).unwrap_err().to_string().contains("at most"));
        let mut big = vec![RESP_FORWARDED];
        big.extend_from_slice(&(MAX_FORWARD_ANSWER_BYTES as u32 + 1).to_be_bytes());
        assert!(decode_response(&big, 8).is_err());
        // A length beyond what came is truncated, not an allocation.
        let mut short = vec![REQ_FORWARD];
        short.extend_from_slice(&100u32.to_be_bytes());
        short.extend_from_slice(&[1, 2, 3]);
        assert!(decode_request(&short).is_err());
    }

    proptest! {
        #[test]
        fn request_roundtrip(req in arb_request()) {
            prop_assert_eq!(decode_request(&encode_request(&req)), Ok(req));
        }

        #[test]
        fn response_roundtrip(resp in arb_response()) {
            prop_assert_eq!(decode_response(&encode_response(&resp), 8), Ok(resp));
        }

        /// Fuzz: arbitrary bytes never panic either decoder, and whatever
        /// decodes re-encodes to the same bytes (the format is canonical).
        #[test]
        fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300), max in 0u32..16) {
            if let Ok(req) = decode_request(&bytes) {
                prop_assert_eq!(encode_request(&req), bytes.clone());
            }
            if let Ok(resp) = decode_response(&bytes, max) {
                prop_assert_eq!(encode_response(&resp), bytes.clone());
            }
        }

        /// Fuzz around valid messages: flip, cut or extend a valid encoding.
        #[test]
        fn mutated_messages_never_panic(resp in arb_response(), pos in any::<usize>(), byte in any::<u8>(), cut in any::<bool>()) {
            let mut bytes = encode_response(&resp);
            if !bytes.is_empty() {
                let i = pos % bytes.len();
                if cut { bytes.truncate(i); } else { bytes[i] = byte; }
            }
            let _ = decode_response(&bytes, 8);
            let _ = decode_request(&bytes);
            let framed = { let mut f = (bytes.len() as u32).to_be_bytes().to_vec(); f.extend_from_slice(&bytes); f };
            let _ = block_on(read_frame(&mut futures::io::Cursor::new(framed), 1024));
        }
    }
}
