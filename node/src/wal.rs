//! The consensus write-ahead log: "persist, then speak".
//!
//! Records are the consensus messages this validator signed (appended and
//! flushed with `fsync` *before* the message leaves the process) and those it
//! received at the current height (appended without a flush of their own;
//! the next signed record's flush makes them durable). After a crash the
//! node rebuilds its consensus machine from the signed records and replays
//! the received ones, so it never signs a conflicting message and keeps the
//! evidence behind its lock (see `clearhouse_consensus`'s persistence
//! contract).
//!
//! Framing: `u32` length (big-endian), 32-byte SHA-256 of the payload, the
//! payload (a canonical [`WalRecord`]). A torn or damaged tail — what a crash
//! mid-write leaves — ends the log: it is cut off at the last whole record.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use clearhouse_ledger::codec;
use clearhouse_ledger::crypto::sha256;

use crate::wire::{CONSENSUS_MESSAGE_BYTES_MAX, ConsensusMessage};

/// One record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum WalRecord {
    /// A message this validator signed.
    Signed(ConsensusMessage),
    /// A message received from a peer (or the network) at the current height.
    Received(ConsensusMessage),
}

impl WalRecord {
    /// The record's consensus height.
    pub fn height(&self) -> u64 {
        match self {
            WalRecord::Signed(message) | WalRecord::Received(message) => message.height(),
        }
    }
}

/// Most bytes of one record.
pub const WAL_RECORD_BYTES_MAX: usize = CONSENSUS_MESSAGE_BYTES_MAX + 64;

/// The log file.
#[derive(Debug)]
pub struct Wal {
    path: PathBuf,
    file: File,
}

/// A WAL failure. Any error here is fatal for a validator: it must not
/// speak without having persisted.
#[derive(Debug, thiserror::Error)]
pub enum WalError {
    /// The file system failed.
    #[error("WAL {path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What happened.
        error: std::io::Error,
    },
    /// A record could not be encoded.
    #[error("WAL record: {0}")]
    Codec(#[from] codec::CodecError),
    /// A damaged record with more records after it: not what a crash
    /// leaves, so the node refuses to guess what it signed.
    #[error(
        "WAL {path} is damaged at byte {offset} (not a torn tail); restore it or investigate before restarting"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Where the damage starts.
        offset: usize,
    },
}

impl Wal {
    /// Opens (or creates) the log, returning it with its whole records; a
    /// torn tail is cut off.
    pub fn open(path: &Path) -> Result<(Wal, Vec<WalRecord>), WalError> {
        let io = |error| WalError::Io {
            path: path.to_owned(),
            error,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(io)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io)?;
        let (records, whole_len) = parse(&bytes);
        if whole_len < bytes.len() && !is_torn_tail(&bytes[whole_len..]) {
            return Err(WalError::Corrupt {
                path: path.to_owned(),
                offset: whole_len,
            });
        }
        if whole_len < bytes.len() {
            tracing::warn!(
                path = %path.display(),
                cut = bytes.len() - whole_len,
                "WAL had a torn tail; cutting it off"
            );
            file.set_len(whole_len as u64).map_err(io)?;
            file.seek(SeekFrom::End(0)).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        Ok((
            Wal {
                path: path.to_owned(),
                file,
            },
            records,
        ))
    }

    /// Appends a record this validator is about to send and flushes it to
    /// disk. Only after this returns may the message leave the process.
    pub fn append_signed(&mut self, message: &ConsensusMessage) -> Result<(), WalError> {
        self.append(&WalRecord::Signed(message.clone()))?;
        self.file.sync_data().map_err(|error| WalError::Io {
            path: self.path.clone(),
            error,
        })
    }

    /// Appends a received message without flushing.
    pub fn append_received(&mut self, message: &ConsensusMessage) -> Result<(), WalError> {
        self.append(&WalRecord::Received(message.clone()))
    }

    /// Appends a record; with `sync`, flushes it (and everything before it)
    /// to disk before returning.
    pub fn append_record(&mut self, record: &WalRecord, sync: bool) -> Result<(), WalError> {
        self.append(record)?;
        if sync {
            self.file.sync_data().map_err(|error| WalError::Io {
                path: self.path.clone(),
                error,
            })?;
        }
        Ok(())
    }

    fn append(&mut self, record: &WalRecord) -> Result<(), WalError> {
        let frame = frame(record)?;
        self.file.write_all(&frame).map_err(|error| WalError::Io {
            path: self.path.clone(),
            error,
        })
    }

    /// Keeps only the records at or above `height` (after a commit of
    /// `height - 1`): writes them to a new file, flushes it, and renames it
    /// over the log.
    pub fn prune_below(&mut self, height: u64, keep: &[WalRecord]) -> Result<(), WalError> {
        let io = |error| WalError::Io {
            path: self.path.clone(),
            error,
        };
        let temporary = self.path.with_extension("wal.new");
        {
            let mut file = File::create(&temporary).map_err(io)?;
            for record in keep.iter().filter(|r| r.height() >= height) {
                file.write_all(&frame(record)?).map_err(io)?;
            }
            file.sync_all().map_err(io)?;
        }
        std::fs::rename(&temporary, &self.path).map_err(io)?;
        // The rename must be durable before anything is signed into the new
        // file, or a power loss could bring the old log back without it.
        let dir = self.path.parent().unwrap_or_else(|| Path::new("."));
        File::open(dir).and_then(|dir| dir.sync_all()).map_err(io)?;
        self.file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&self.path)
            .map_err(io)?;
        Ok(())
    }
}

/// A record's frame: length, SHA-256 of the payload, payload.
fn frame(record: &WalRecord) -> Result<Vec<u8>, WalError> {
    let payload = codec::encode(record)?;
    let len = u32::try_from(payload.len())
        .map_err(|_| codec::CodecError::Encode("WAL record too large".into()))?;
    let mut frame = Vec::with_capacity(4 + 32 + payload.len());
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(&sha256(&[&payload]).0);
    frame.extend_from_slice(&payload);
    Ok(frame)
}

/// Whether `rest` (what follows the last whole record) is what a crash
/// mid-append leaves: a partial header, or one last record of a plausible
/// length whose payload is short or damaged. A frame is written header
/// first, so an impossible length, or a bad record with more after it, is
/// damage rather than a crash.
fn is_torn_tail(rest: &[u8]) -> bool {
    if rest.len() < 36 {
        return true;
    }
    let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
    len <= WAL_RECORD_BYTES_MAX && 36 + len >= rest.len()
}

/// Parses whole records; returns them and the length of the whole prefix.
fn parse(bytes: &[u8]) -> (Vec<WalRecord>, usize) {
    let mut records = Vec::new();
    let mut offset = 0usize;
    while bytes.len() - offset >= 36 {
        let len_bytes = [
            bytes[offset],
            bytes[offset + 1],
            bytes[offset + 2],
            bytes[offset + 3],
        ];
        let len = u32::from_be_bytes(len_bytes) as usize;
        if len > WAL_RECORD_BYTES_MAX || bytes.len() - offset - 36 < len {
            break;
        }
        let hash = &bytes[offset + 4..offset + 36];
        let payload = &bytes[offset + 36..offset + 36 + len];
        if sha256(&[payload]).0 != hash {
            break;
        }
        match codec::decode::<WalRecord, WAL_RECORD_BYTES_MAX>(payload) {
            Ok(record) => records.push(record),
            Err(_) => break,
        }
        offset += 36 + len;
    }
    (records, offset)
}

/// The WAL's records in memory, with the prune rule: what this validator
/// signed and received at heights the store does not hold yet. The engine
/// keeps one; its host keeps the file ([`Wal`]) in step by executing the
/// engine's append and prune effects in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WalRecords {
    records: Vec<WalRecord>,
}

impl WalRecords {
    /// The records of a log read at start-up that still matter once the
    /// store holds `store_tip`: those above it, in log order.
    pub fn resume(records: Vec<WalRecord>, store_tip: u64) -> WalRecords {
        WalRecords {
            records: records
                .into_iter()
                .filter(|r| r.height() > store_tip)
                .collect(),
        }
    }

    /// Notes an appended record.
    pub fn push(&mut self, record: WalRecord) {
        self.records.push(record);
    }

    /// Every record, in log order.
    pub fn records(&self) -> &[WalRecord] {
        &self.records
    }

    /// How many records are held.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The messages (signed and received) of `height`, in log order.
    pub fn messages_at(&self, height: u64) -> impl Iterator<Item = &ConsensusMessage> + '_ {
        self.records.iter().filter_map(move |record| {
            let (WalRecord::Signed(message) | WalRecord::Received(message)) = record;
            (message.height() == height).then_some(message)
        })
    }

    /// The prune rule: once the store holds `height`, records at or below
    /// it are no longer needed (a restart resumes above the store's tip).
    /// Forgets them and returns what the file must keep
    /// ([`Wal::prune_below`]`(height + 1, ..)`).
    pub fn prune_through(&mut self, height: u64) -> Vec<WalRecord> {
        self.records.retain(|r| r.height() > height);
        self.records.clone()
    }
}
