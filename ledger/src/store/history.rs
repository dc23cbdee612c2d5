//! The chain's history in append-only segment files: each committed block,
//! with its certificate and receipts, is one record, written and synced
//! once; that record is the commit point of the block.
//!
//! A folder of segments named by the first height they hold
//! (`00000000000000000001.seg`), each a sequence of records:
//!
//! ```text
//! magic "CHR1" | payload length u32 BE | checksum 8 bytes | payload
//! payload = height u64 BE
//!         | block length u32 BE        | block (canonical encoding)
//!         | certificate length u32 BE  | certificate
//!         | receipts length u32 BE     | receipts
//! ```
//!
//! The checksum is the first 8 bytes of SHA-256 over the payload. A segment
//! rolls once it holds [`HistoryConfig::segment_bytes`]: the closed segment
//! gets an index file (`….idx`: one u64 BE offset per height) and is never
//! written again; the open segment's offsets live in memory. So memory holds
//! one entry per segment plus the open segment's offsets, whatever the
//! length of the chain.
//!
//! At open, the last segment is read through: a torn or damaged last record
//! (a crash during an append) is cut off and reported. Damage anywhere else
//! (a closed segment, or a record followed by whole records) is a typed
//! error naming the file and the offset, and is never served: every read
//! checks the record's checksum and height.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::codec::{BLOCK_BYTES_MAX, CERTIFICATE_BYTES_MAX, RECEIPTS_BYTES_MAX};

use super::StoreError;

/// The first bytes of every record.
pub const MAGIC: [u8; 4] = *b"CHR1";
/// Bytes before a record's payload: magic, length, checksum.
pub const RECORD_HEADER_BYTES: usize = 16;
/// The largest payload a record may declare.
pub const PAYLOAD_BYTES_MAX: usize =
    8 + 12 + BLOCK_BYTES_MAX + CERTIFICATE_BYTES_MAX + RECEIPTS_BYTES_MAX;
/// The default size at which a segment rolls.
pub const SEGMENT_BYTES: u64 = 256 * 1024 * 1024;

/// How the history is laid out.
#[derive(Debug, Clone, Copy)]
pub struct HistoryConfig {
    /// A segment rolls once it holds at least this many bytes.
    pub segment_bytes: u64,
}

impl Default for HistoryConfig {
    fn default() -> HistoryConfig {
        HistoryConfig {
            segment_bytes: SEGMENT_BYTES,
        }
    }
}

/// One block's record, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The block's height.
    pub height: u64,
    /// The block's canonical bytes.
    pub block: Vec<u8>,
    /// Its commit certificate's canonical bytes.
    pub certificate: Vec<u8>,
    /// Its receipts' canonical bytes.
    pub receipts: Vec<u8>,
}

impl Record {
    /// The record's bytes, header included.
    pub fn encode(&self) -> Vec<u8> {
        let payload_len = 8 + 12 + self.block.len() + self.certificate.len() + self.receipts.len();
        let mut out = Vec::with_capacity(RECORD_HEADER_BYTES + payload_len);
        out.extend_from_slice(&MAGIC);
        // Bounded by the codec's limits, far below 4 GiB.
        out.extend_from_slice(&len32(payload_len));
        out.extend_from_slice(&[0u8; 8]);
        out.extend_from_slice(&self.height.to_be_bytes());
        for part in [&self.block, &self.certificate, &self.receipts] {
            out.extend_from_slice(&len32(part.len()));
            out.extend_from_slice(part);
        }
        let sum = checksum(&out[RECORD_HEADER_BYTES..]);
        out[8..16].copy_from_slice(&sum);
        out
    }

    /// Reads a payload back (its checksum already checked).
    fn decode_payload(payload: &[u8]) -> Option<Record> {
        let height = u64::from_be_bytes(payload.get(..8)?.try_into().ok()?);
        let mut rest = &payload[8..];
        let mut part = || -> Option<Vec<u8>> {
            let len = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
            let bytes = rest.get(4..4 + len)?.to_vec();
            rest = &rest[4 + len..];
            Some(bytes)
        };
        let block = part()?;
        let certificate = part()?;
        let receipts = part()?;
        if !rest.is_empty() {
            return None;
        }
        Some(Record {
            height,
            block,
            certificate,
            receipts,
        })
    }
}

/// A big-endian u64 from exactly 8 bytes (callers slice them).
pub(crate) fn be_u64(bytes: &[u8]) -> u64 {
    let mut array = [0u8; 8];
    array.copy_from_slice(bytes);
    u64::from_be_bytes(array)
}

/// A big-endian u32 from exactly 4 bytes (callers slice them).
pub(crate) fn be_u32(bytes: &[u8]) -> u32 {
    let mut array = [0u8; 4];
    array.copy_from_slice(bytes);
    u32::from_be_bytes(array)
}

/// A length as the u32 a record stores: the codec bounds every part far
/// below 4 GiB.
fn len32(len: usize) -> [u8; 4] {
    u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes()
}

fn checksum(payload: &[u8]) -> [u8; 8] {
    let digest = Sha256::digest(payload);
    let mut sum = [0u8; 8];
    sum.copy_from_slice(&digest[..8]);
    sum
}

/// What reading a record at an offset found.
enum Found {
    /// A whole record, and the offset after it.
    Whole(Record, u64),
    /// The file ends inside the record (or right at the offset: `End`).
    Torn(String),
    /// Bytes that are not a whole, checked record.
    Damaged(String),
    /// Nothing after the offset.
    End,
}

fn read_record(file: &File, offset: u64, file_len: u64) -> std::io::Result<Found> {
    if offset == file_len {
        return Ok(Found::End);
    }
    if file_len - offset < RECORD_HEADER_BYTES as u64 {
        return Ok(Found::Torn("a record header cut short".into()));
    }
    let mut header = [0u8; RECORD_HEADER_BYTES];
    file.read_exact_at(&mut header, offset)?;
    if header[..4] != MAGIC {
        return Ok(Found::Damaged("no record magic".into()));
    }
    let len = be_u32(&header[4..8]) as usize;
    if len > PAYLOAD_BYTES_MAX {
        return Ok(Found::Damaged(format!("a record length of {len} bytes")));
    }
    let end = offset + (RECORD_HEADER_BYTES + len) as u64;
    if end > file_len {
        return Ok(Found::Torn(format!(
            "a record of {len} bytes with {} left in the file",
            file_len - offset - RECORD_HEADER_BYTES as u64
        )));
    }
    let mut payload = vec![0u8; len];
    file.read_exact_at(&mut payload, offset + RECORD_HEADER_BYTES as u64)?;
    if checksum(&payload) != header[8..16] {
        return Ok(Found::Damaged("checksum mismatch".into()));
    }
    match Record::decode_payload(&payload) {
        Some(record) => Ok(Found::Whole(record, end)),
        None => Ok(Found::Damaged("a payload that does not frame".into())),
    }
}

/// A closed or open segment.
#[derive(Debug)]
struct Segment {
    /// The first height it holds (from its name).
    first: u64,
    path: PathBuf,
    /// Offsets by height for the open segment (and closed ones whose index
    /// file is being written); `None`: read the index file.
    offsets: Option<Vec<u64>>,
    /// How many records it holds.
    count: u64,
}

impl Segment {
    fn index_path(&self) -> PathBuf {
        self.path.with_extension("idx")
    }
}

/// A torn or damaged last record cut off at open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repair {
    /// The segment file.
    pub file: PathBuf,
    /// Where the cut record began (the file's new length).
    pub offset: u64,
    /// What was wrong with it.
    pub what: String,
}

impl std::fmt::Display for Repair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} cut at byte {}: {}",
            self.file.display(),
            self.offset,
            self.what
        )
    }
}

/// The segment files of one store.
#[derive(Debug)]
pub struct History {
    dir: PathBuf,
    config: HistoryConfig,
    segments: Vec<Segment>,
    /// The open segment, for appends (none when opened read-only).
    writer: Option<File>,
    /// The open segment's length.
    len: u64,
    /// The last height held (0: none).
    tip: u64,
    repair: Option<Repair>,
    /// Why appending stopped: after a failed write or sync (a full disk)
    /// nothing more is appended until the store is reopened, which scans
    /// the tail again. What the page cache holds after a failed sync is
    /// not known, so a retry on the same file is never safe.
    failed: Option<String>,
}

fn damaged(path: &Path, offset: u64, what: impl Into<String>) -> StoreError {
    StoreError::Damaged {
        file: path.to_path_buf(),
        offset,
        what: what.into(),
    }
}

fn io(path: &Path, error: std::io::Error) -> StoreError {
    StoreError::Io {
        path: path.to_path_buf(),
        error: error.to_string(),
    }
}

fn segment_name(first: u64) -> String {
    format!("{first:020}.seg")
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io(dir, e))
}

impl History {
    /// Opens (or creates) the history in `dir` for appending: the last
    /// segment is read through and a torn last record cut off.
    pub fn open(dir: &Path, config: HistoryConfig) -> Result<History, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        History::load(dir, config, true)
    }

    /// Opens an existing history without writing to it (an auditor reading
    /// a node's folder, perhaps while the node appends): it ends at the
    /// last whole record, and nothing is cut.
    pub fn open_read_only(dir: &Path) -> Result<History, StoreError> {
        History::load(dir, HistoryConfig::default(), false)
    }

    fn load(dir: &Path, config: HistoryConfig, writable: bool) -> Result<History, StoreError> {
        let mut firsts = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|e| io(dir, e))? {
            let entry = entry.map_err(|e| io(dir, e))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if let Some(stem) = name.strip_suffix(".seg") {
                let first = stem.parse::<u64>().map_err(|_| {
                    damaged(&entry.path(), 0, "a segment name that is not a height")
                })?;
                firsts.push(first);
            }
        }
        firsts.sort_unstable();
        let mut history = History {
            dir: dir.to_path_buf(),
            config,
            segments: Vec::new(),
            writer: None,
            len: 0,
            tip: 0,
            repair: None,
            failed: None,
        };
        let last = firsts.len().saturating_sub(1);
        for (i, first) in firsts.iter().copied().enumerate() {
            // The first segment starts the history: at height 1, or at the
            // height of the snapshot the store was started from (the store
            // checks which it expects).
            if i == 0 {
                history.tip = first.saturating_sub(1);
            }
            let expected = history.tip + 1;
            if first != expected {
                return Err(damaged(
                    &dir.join(segment_name(first)),
                    0,
                    format!(
                        "the segment starts at height {first}, the one before ends at {}",
                        history.tip
                    ),
                ));
            }
            let path = dir.join(segment_name(first));
            let mut segment = Segment {
                first,
                path,
                offsets: None,
                count: 0,
            };
            if i < last {
                history.load_closed(&mut segment)?;
            } else {
                history.load_last(&mut segment, writable)?;
            }
            history.tip = segment.first + segment.count - 1;
            history.segments.push(segment);
        }
        if writable {
            if history.segments.is_empty() {
                history.start_segment(1)?;
            } else {
                let path = &history.segments[last].path;
                let mut file = OpenOptions::new()
                    .append(true)
                    .open(path)
                    .map_err(|e| io(path, e))?;
                file.seek(SeekFrom::End(0)).map_err(|e| io(path, e))?;
                history.writer = Some(file);
            }
        }
        Ok(history)
    }

    /// A closed segment: its index file, or (a crash between the roll and
    /// the index) a scan that must find nothing but whole records.
    fn load_closed(&self, segment: &mut Segment) -> Result<(), StoreError> {
        let index = segment.index_path();
        let file_len = std::fs::metadata(&segment.path)
            .map_err(|e| io(&segment.path, e))?
            .len();
        match std::fs::read(&index) {
            Ok(bytes) if bytes.len() % 8 == 0 && !bytes.is_empty() => {
                segment.count = (bytes.len() / 8) as u64;
                let last = be_u64(&bytes[bytes.len() - 8..]);
                if last >= file_len {
                    return Err(damaged(&index, 0, "an index pointing past its segment"));
                }
                Ok(())
            }
            Ok(_) => Err(damaged(&index, 0, "an index that is not whole offsets")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let offsets = self.scan(segment, false)?.0;
                if offsets.is_empty() {
                    return Err(damaged(&segment.path, 0, "a closed segment with no record"));
                }
                self.write_index(&index, &offsets)?;
                segment.count = offsets.len() as u64;
                Ok(())
            }
            Err(e) => Err(io(&index, e)),
        }
    }

    fn load_last(&mut self, segment: &mut Segment, writable: bool) -> Result<(), StoreError> {
        let (offsets, cut) = self.scan(segment, true)?;
        if let Some((offset, what)) = cut {
            if writable {
                let file = OpenOptions::new()
                    .write(true)
                    .open(&segment.path)
                    .map_err(|e| io(&segment.path, e))?;
                file.set_len(offset).map_err(|e| io(&segment.path, e))?;
                file.sync_all().map_err(|e| io(&segment.path, e))?;
                self.repair = Some(Repair {
                    file: segment.path.clone(),
                    offset,
                    what,
                });
            }
            self.len = offset;
        } else {
            self.len = std::fs::metadata(&segment.path)
                .map_err(|e| io(&segment.path, e))?
                .len();
        }
        segment.count = offsets.len() as u64;
        segment.offsets = Some(offsets);
        Ok(())
    }

    /// Reads a segment through: the offset of each record, and (when the
    /// segment is the last and `tail_may_tear`) a torn or damaged last
    /// record to cut, as (offset, what).
    #[allow(clippy::type_complexity)]
    fn scan(
        &self,
        segment: &Segment,
        tail_may_tear: bool,
    ) -> Result<(Vec<u64>, Option<(u64, String)>), StoreError> {
        let path = &segment.path;
        let file = File::open(path).map_err(|e| io(path, e))?;
        let file_len = file.metadata().map_err(|e| io(path, e))?.len();
        let mut offsets = Vec::new();
        let mut offset = 0u64;
        loop {
            match read_record(&file, offset, file_len).map_err(|e| io(path, e))? {
                Found::End => return Ok((offsets, None)),
                Found::Whole(record, end) => {
                    let expected = segment.first + offsets.len() as u64;
                    if record.height != expected {
                        return Err(damaged(
                            path,
                            offset,
                            format!("a record of height {}, expected {expected}", record.height),
                        ));
                    }
                    offsets.push(offset);
                    offset = end;
                }
                Found::Torn(what) if tail_may_tear => return Ok((offsets, Some((offset, what)))),
                Found::Damaged(what) if tail_may_tear => {
                    // Cut only what a crash can leave: no whole record may
                    // follow the damaged one.
                    if has_whole_record_after(&file, offset, file_len).map_err(|e| io(path, e))? {
                        return Err(damaged(path, offset, what));
                    }
                    return Ok((offsets, Some((offset, what))));
                }
                Found::Torn(what) | Found::Damaged(what) => {
                    return Err(damaged(path, offset, what));
                }
            }
        }
    }

    fn write_index(&self, path: &Path, offsets: &[u64]) -> Result<(), StoreError> {
        let mut bytes = Vec::with_capacity(offsets.len() * 8);
        for offset in offsets {
            bytes.extend_from_slice(&offset.to_be_bytes());
        }
        let tmp = path.with_extension("idx.tmp");
        let mut file = File::create(&tmp).map_err(|e| io(&tmp, e))?;
        file.write_all(&bytes).map_err(|e| io(&tmp, e))?;
        file.sync_all().map_err(|e| io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| io(path, e))?;
        sync_dir(&self.dir)
    }

    fn start_segment(&mut self, first: u64) -> Result<(), StoreError> {
        let path = self.dir.join(segment_name(first));
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(|e| io(&path, e))?;
        sync_dir(&self.dir)?;
        self.segments.push(Segment {
            first,
            path,
            offsets: Some(Vec::new()),
            count: 0,
        });
        self.writer = Some(file);
        self.len = 0;
        Ok(())
    }

    /// Starts an empty history at `first` (a store started from a snapshot
    /// of height `first`, whose record is the first appended).
    pub fn create_at(dir: &Path, config: HistoryConfig, first: u64) -> Result<History, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        if std::fs::read_dir(dir)
            .map_err(|e| io(dir, e))?
            .next()
            .is_some()
        {
            return Err(StoreError::Corrupt(format!(
                "{} is not empty: a history starts only in an empty folder",
                dir.display()
            )));
        }
        let mut history = History::load(dir, config, false)?;
        history.tip = first.saturating_sub(1);
        history.start_segment(first.max(1))?;
        Ok(history)
    }

    /// The first height that would remain if every closed segment wholly
    /// below `height` were removed (the open segment always stays).
    pub fn prunable_first(&self, height: u64) -> u64 {
        let mut first = self.first();
        for next in self.segments.iter().skip(1) {
            if next.first > height {
                break;
            }
            first = next.first;
        }
        first
    }

    /// Removes the closed segments (with their index files) wholly below
    /// `first`, which must be the first height of a segment held.
    pub fn remove_below(&mut self, first: u64) -> Result<(), StoreError> {
        if first <= self.first() {
            return Ok(());
        }
        let keep = self.segments.partition_point(|s| s.first < first);
        if self.segments.get(keep).is_none_or(|s| s.first != first) {
            return Err(StoreError::Corrupt(format!(
                "history pruning below {first}, which no segment starts at"
            )));
        }
        for segment in &self.segments[..keep] {
            for path in [segment.path.clone(), segment.index_path()] {
                match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io(&path, e)),
                }
            }
        }
        self.segments.drain(..keep);
        sync_dir(&self.dir)
    }

    /// The lowest height held, or that the next append holds (1, or the
    /// height of the snapshot the store was started from).
    pub fn first(&self) -> u64 {
        self.segments.first().map_or(1, |s| s.first)
    }

    /// The highest height held (0: none).
    pub fn tip(&self) -> u64 {
        self.tip
    }

    /// What open cut off, if anything.
    pub fn repair(&self) -> Option<&Repair> {
        self.repair.as_ref()
    }

    /// How many segment files there are.
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// Appends the record of the next height and syncs it: when this
    /// returns, the block is committed. An error leaves the history unfit
    /// for more appends (the caller stops and reopens, which cuts a torn
    /// tail).
    pub fn append(&mut self, record: &Record) -> Result<(), StoreError> {
        if record.height != self.tip + 1 {
            return Err(StoreError::Corrupt(format!(
                "history append of height {} after {}",
                record.height, self.tip
            )));
        }
        if let Some(failed) = &self.failed {
            return Err(StoreError::Io {
                path: self.dir.clone(),
                error: format!(
                    "appending stopped after an earlier failure ({failed}); \
                     reopen the store once the cause is fixed"
                ),
            });
        }
        let appended = self.try_append(record);
        if let Err(error) = &appended {
            self.failed = Some(error.to_string());
        }
        appended
    }

    fn try_append(&mut self, record: &Record) -> Result<(), StoreError> {
        if self.len >= self.config.segment_bytes {
            self.roll()?;
        }
        let bytes = record.encode();
        let Some(segment) = self.segments.last_mut() else {
            return Err(StoreError::Corrupt(
                "history without an open segment".into(),
            ));
        };
        let writer = self
            .writer
            .as_mut()
            .ok_or_else(|| StoreError::Corrupt("history opened read-only".into()))?;
        if let Err(error) = writer.write_all(&bytes).and_then(|()| writer.sync_data()) {
            // Take back what part of the record went out, so the file ends
            // at the last whole record even before a reopen looks at it
            // (if this fails too, the reopen cuts the torn tail).
            let _ = writer
                .set_len(self.len)
                .and_then(|()| writer.seek(SeekFrom::Start(self.len)).map(|_| ()))
                .and_then(|()| writer.sync_data());
            return Err(io(&segment.path, error));
        }
        // The open segment keeps its offsets (only a roll takes them).
        segment.offsets.get_or_insert_with(Vec::new).push(self.len);
        segment.count += 1;
        self.len += bytes.len() as u64;
        self.tip = record.height;
        Ok(())
    }

    /// Closes the open segment (its index written and synced) and starts
    /// the next.
    fn roll(&mut self) -> Result<(), StoreError> {
        let Some(segment) = self.segments.last_mut() else {
            return Err(StoreError::Corrupt(
                "history without an open segment".into(),
            ));
        };
        let offsets = segment.offsets.take().unwrap_or_default();
        let index = segment.index_path();
        self.write_index(&index, &offsets)?;
        self.start_segment(self.tip + 1)
    }

    /// The record of `height`, checked, or `None` above the tip.
    pub fn read(&self, height: u64) -> Result<Option<Record>, StoreError> {
        if height == 0 || height > self.tip || height < self.first() {
            return Ok(None);
        }
        let at = self.segments.partition_point(|s| s.first <= height) - 1;
        let segment = &self.segments[at];
        let position = height - segment.first;
        let offset = match &segment.offsets {
            Some(offsets) => *usize::try_from(position)
                .ok()
                .and_then(|p| offsets.get(p))
                .ok_or_else(|| damaged(&segment.path, 0, "an offset missing in memory"))?,
            None => {
                let index = segment.index_path();
                let file = File::open(&index).map_err(|e| io(&index, e))?;
                let mut bytes = [0u8; 8];
                file.read_exact_at(&mut bytes, position * 8)
                    .map_err(|e| io(&index, e))?;
                u64::from_be_bytes(bytes)
            }
        };
        let file = File::open(&segment.path).map_err(|e| io(&segment.path, e))?;
        let file_len = file.metadata().map_err(|e| io(&segment.path, e))?.len();
        match read_record(&file, offset, file_len).map_err(|e| io(&segment.path, e))? {
            Found::Whole(record, _) if record.height == height => Ok(Some(record)),
            Found::Whole(record, _) => Err(damaged(
                &segment.path,
                offset,
                format!("a record of height {}, expected {height}", record.height),
            )),
            Found::Torn(what) | Found::Damaged(what) => Err(damaged(&segment.path, offset, what)),
            Found::End => Err(damaged(
                &segment.path,
                offset,
                "no record where one was indexed",
            )),
        }
    }
}

/// Whether a whole record starts anywhere after a damaged one at `offset`
/// (then the damage is not a torn tail). Looks for the magic at every byte.
fn has_whole_record_after(file: &File, offset: u64, file_len: u64) -> std::io::Result<bool> {
    let mut rest = Vec::new();
    let mut reader = file.try_clone()?;
    reader.seek(SeekFrom::Start(offset + 1))?;
    reader.read_to_end(&mut rest)?;
    let mut from = 0;
    while let Some(found) = find(&rest[from..], &MAGIC) {
        let at = offset + 1 + (from + found) as u64;
        if let Found::Whole(..) = read_record(file, at, file_len)? {
            return Ok(true);
        }
        from += found + 1;
    }
    Ok(false)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
