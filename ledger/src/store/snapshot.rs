//! Snapshots: the whole state at a certified height, so a new node starts
//! from there instead of replaying the chain from genesis.
//!
//! A snapshot is the block of its height with that block's commit
//! certificate and receipts, and every state entry after that block. It
//! proves itself: the certificate must carry more than two thirds of the
//! validator set's power for the block's hash, and the state entries must
//! hash to the state root in that block's header. Nothing in it is taken on
//! the word of the node that served it.
//!
//! The bytes (all integers big-endian), documented for other languages:
//!
//! ```text
//! magic "CHSNAP01" (8 bytes)
//! chain id (32)
//! height u64
//! block length u32        | block (canonical encoding)
//! certificate length u32  | certificate
//! receipts length u32     | receipts
//! entry count u64
//! entry count times: key length u32 | key | value length u32 | value
//!                    (keys strictly increasing, as the store encodes them)
//! SHA-256 over every byte above (32)
//! ```
//!
//! The checksum catches a damaged or cut file early with a clear message;
//! the certificate and the state root are what make a snapshot trusted.
//! The validator set a certificate is checked against is the genesis one:
//! the set is fixed at genesis (when sets change by vote, the set in force
//! at the height is what the check takes).

use std::collections::BTreeMap;
use std::io::{Read, Write};

use sha2::{Digest, Sha256};

use crate::block::Block;
use crate::certificate::CommitCertificate;
use crate::codec::{self, BLOCK_BYTES_MAX, CERTIFICATE_BYTES_MAX, RECEIPTS_BYTES_MAX};
use crate::genesis::Genesis;
use crate::ids::{ChainId, Hash};
use crate::state::Receipt;
use crate::state::commitment;
use crate::state::memory::MemoryState;

/// The first bytes of a snapshot.
pub const MAGIC: [u8; 8] = *b"CHSNAP01";

/// The longest state key a snapshot may carry.
pub const KEY_BYTES_MAX: usize = 1024;

/// The longest state value a snapshot may carry.
pub const VALUE_BYTES_MAX: usize = 16 * 1024 * 1024;

/// Why a snapshot is refused.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The bytes end early, exceed a limit or are out of order.
    #[error("malformed snapshot: {0}")]
    Malformed(String),
    /// The trailing checksum does not match (a damaged or cut file).
    #[error("the snapshot's checksum does not match its bytes (damaged or cut short)")]
    Checksum,
    /// The snapshot is of another chain.
    #[error("the snapshot is of chain {found}, the genesis gives {expected}")]
    WrongChain {
        /// The genesis' chain id.
        expected: ChainId,
        /// The snapshot's.
        found: ChainId,
    },
    /// The certificate does not certify the snapshot's block.
    #[error("the snapshot's certificate does not certify block {height}: {reason}")]
    Certificate {
        /// The snapshot's height.
        height: u64,
        /// What failed.
        reason: String,
    },
    /// The state entries do not hash to the certified header's state root.
    #[error(
        "the snapshot's state hashes to {computed}, the certified header of height {height} says {certified}"
    )]
    StateRoot {
        /// The snapshot's height.
        height: u64,
        /// The header's state root.
        certified: Hash,
        /// The entries' root.
        computed: Hash,
    },
    /// Reading or writing the bytes failed.
    #[error("snapshot i/o: {0}")]
    Io(String),
}

/// The state at a certified height, with the block that certifies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The chain.
    pub chain_id: ChainId,
    /// The height of the block the state is after.
    pub height: u64,
    /// That block's canonical bytes.
    pub block: Vec<u8>,
    /// Its commit certificate's canonical bytes.
    pub certificate: Vec<u8>,
    /// Its receipts' canonical bytes.
    pub receipts: Vec<u8>,
    /// Every state entry (encoded key, encoded value).
    pub entries: BTreeMap<Vec<u8>, Vec<u8>>,
}

/// What [`Snapshot::verify`] established.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The decoded block.
    pub block: Block,
    /// Its hash (the certified one).
    pub block_hash: Hash,
    /// The decoded certificate.
    pub certificate: CommitCertificate,
    /// The state root the entries hash to, equal to the header's.
    pub state_root: Hash,
}

/// A writer that hashes what passes through it.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Hashing<W> {
    fn put(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.hasher.update(bytes);
        self.inner.write_all(bytes)
    }

    fn part(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let len = u32::try_from(bytes.len())
            .map_err(|_| std::io::Error::other("a snapshot part over 4 GiB"))?;
        self.put(&len.to_be_bytes())?;
        self.put(bytes)
    }
}

/// A reader that hashes what it reads and enforces the limits.
struct Checked<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Checked<R> {
    fn exact(&mut self, buf: &mut [u8], what: &str) -> Result<(), SnapshotError> {
        self.inner.read_exact(buf).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                SnapshotError::Malformed(format!("it ends inside {what}"))
            } else {
                SnapshotError::Io(e.to_string())
            }
        })?;
        self.hasher.update(&buf[..]);
        Ok(())
    }

    fn u32(&mut self, what: &str) -> Result<u32, SnapshotError> {
        let mut bytes = [0u8; 4];
        self.exact(&mut bytes, what)?;
        Ok(u32::from_be_bytes(bytes))
    }

    fn u64(&mut self, what: &str) -> Result<u64, SnapshotError> {
        let mut bytes = [0u8; 8];
        self.exact(&mut bytes, what)?;
        Ok(u64::from_be_bytes(bytes))
    }

    fn part(&mut self, max: usize, what: &str) -> Result<Vec<u8>, SnapshotError> {
        let len = usize::try_from(self.u32(what)?)
            .map_err(|_| SnapshotError::Malformed(format!("{what} too long")))?;
        if len > max {
            return Err(SnapshotError::Malformed(format!(
                "{what} of {len} bytes, over the limit of {max}"
            )));
        }
        let mut bytes = vec![0u8; len];
        self.exact(&mut bytes, what)?;
        Ok(bytes)
    }
}

impl Snapshot {
    /// Writes the snapshot's bytes.
    pub fn write_to(&self, out: impl Write) -> Result<(), SnapshotError> {
        let io = |e: std::io::Error| SnapshotError::Io(e.to_string());
        let mut out = Hashing {
            inner: std::io::BufWriter::new(out),
            hasher: Sha256::new(),
        };
        out.put(&MAGIC).map_err(io)?;
        out.put(&self.chain_id.0).map_err(io)?;
        out.put(&self.height.to_be_bytes()).map_err(io)?;
        for part in [&self.block, &self.certificate, &self.receipts] {
            out.part(part).map_err(io)?;
        }
        let count = u64::try_from(self.entries.len())
            .map_err(|_| SnapshotError::Malformed("too many entries".into()))?;
        out.put(&count.to_be_bytes()).map_err(io)?;
        for (key, value) in &self.entries {
            out.part(key).map_err(io)?;
            out.part(value).map_err(io)?;
        }
        let sum = out.hasher.finalize();
        out.inner.write_all(&sum).map_err(io)?;
        out.inner.flush().map_err(io)
    }

    /// The snapshot's bytes in memory.
    pub fn to_bytes(&self) -> Result<Vec<u8>, SnapshotError> {
        let mut bytes = Vec::new();
        self.write_to(&mut bytes)?;
        Ok(bytes)
    }

    /// Reads a snapshot, checking its limits, key order and checksum (not
    /// yet its certificate or root: see [`Snapshot::verify`]). Nothing
    /// may follow the checksum.
    pub fn read_from(input: impl Read) -> Result<Snapshot, SnapshotError> {
        let mut input = Checked {
            inner: std::io::BufReader::new(input),
            hasher: Sha256::new(),
        };
        let mut magic = [0u8; 8];
        input.exact(&mut magic, "the magic")?;
        if magic != MAGIC {
            return Err(SnapshotError::Malformed(
                "not a Clearhouse snapshot (its first bytes are not CHSNAP01)".into(),
            ));
        }
        let mut chain_id = [0u8; 32];
        input.exact(&mut chain_id, "the chain id")?;
        let height = input.u64("the height")?;
        let block = input.part(BLOCK_BYTES_MAX, "the block")?;
        let certificate = input.part(CERTIFICATE_BYTES_MAX, "the certificate")?;
        let receipts = input.part(RECEIPTS_BYTES_MAX, "the receipts")?;
        let count = input.u64("the entry count")?;
        let mut entries = BTreeMap::new();
        let mut last: Option<Vec<u8>> = None;
        for _ in 0..count {
            let key = input.part(KEY_BYTES_MAX, "a state key")?;
            let value = input.part(VALUE_BYTES_MAX, "a state value")?;
            if last.as_ref().is_some_and(|last| *last >= key) {
                return Err(SnapshotError::Malformed(
                    "state keys out of order or repeated".into(),
                ));
            }
            last = Some(key.clone());
            entries.insert(key, value);
        }
        let expected = input.hasher.finalize();
        let mut sum = [0u8; 32];
        input
            .inner
            .read_exact(&mut sum)
            .map_err(|_| SnapshotError::Checksum)?;
        if sum[..] != expected[..] {
            return Err(SnapshotError::Checksum);
        }
        let mut rest = [0u8; 1];
        match input.inner.read(&mut rest) {
            Ok(0) => {}
            Ok(_) => {
                return Err(SnapshotError::Malformed("bytes after the checksum".into()));
            }
            Err(e) => return Err(SnapshotError::Io(e.to_string())),
        }
        Ok(Snapshot {
            chain_id: Hash(chain_id),
            height,
            block,
            certificate,
            receipts,
            entries,
        })
    }

    /// Checks the snapshot against `genesis`: the chain, the block at the
    /// snapshot's height, its certificate against the validator set, and
    /// the state entries against the certified header's state root.
    pub fn verify(&self, genesis: &Genesis) -> Result<Verified, SnapshotError> {
        let expected = genesis
            .chain_id()
            .map_err(|e| SnapshotError::Malformed(format!("the genesis: {e}")))?;
        if self.chain_id != expected {
            return Err(SnapshotError::WrongChain {
                expected,
                found: self.chain_id,
            });
        }
        let height = self.height;
        if height == 0 {
            return Err(SnapshotError::Malformed(
                "a snapshot of height 0 (start from the genesis instead)".into(),
            ));
        }
        let block = Block::decode(&self.block)
            .map_err(|e| SnapshotError::Malformed(format!("the block: {e}")))?;
        if block.header.height != height {
            return Err(SnapshotError::Malformed(format!(
                "the block is of height {}, the snapshot says {height}",
                block.header.height
            )));
        }
        let block_hash = block
            .hash()
            .map_err(|e| SnapshotError::Malformed(format!("the block: {e}")))?;
        let certificate =
            codec::decode::<CommitCertificate, CERTIFICATE_BYTES_MAX>(&self.certificate)
                .map_err(|e| SnapshotError::Malformed(format!("the certificate: {e}")))?;
        let validators = genesis
            .validator_set()
            .map_err(|e| SnapshotError::Malformed(format!("the genesis: {e}")))?;
        certificate
            .verify(&self.chain_id, height, &block_hash, &validators)
            .map_err(|e| SnapshotError::Certificate {
                height,
                reason: e.to_string(),
            })?;
        codec::decode::<Vec<Receipt>, RECEIPTS_BYTES_MAX>(&self.receipts)
            .ok()
            .filter(|receipts| receipts.len() == block.transactions.len())
            .ok_or_else(|| {
                SnapshotError::Malformed("the receipts do not match the block".into())
            })?;
        let writes: BTreeMap<Vec<u8>, Option<Vec<u8>>> = self
            .entries
            .iter()
            .map(|(key, value)| (key.clone(), Some(value.clone())))
            .collect();
        let empty = MemoryState::empty(self.chain_id);
        let update = commitment::update(&empty, &writes)
            .map_err(|e| SnapshotError::Malformed(format!("the state entries: {e}")))?;
        if update.root != block.header.state_root {
            return Err(SnapshotError::StateRoot {
                height,
                certified: block.header.state_root,
                computed: update.root,
            });
        }
        Ok(Verified {
            block,
            block_hash,
            certificate,
            state_root: update.root,
        })
    }
}
