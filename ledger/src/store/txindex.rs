//! The transaction index with nothing per payment in sled: the ids of the
//! latest blocks in a bounded map in memory (rebuilt from the history at
//! open), and each finished window of blocks as one sorted, immutable run
//! file that one small sled entry points to (see [`super::keys::run`]).
//!
//! A run file (`<from>-<to>.txr`, heights of the window):
//!
//! ```text
//! magic "CHX1" | entry count u64 BE | entries | checksum 8 bytes
//! entry = id prefix u64 BE (the id's first 8 bytes) | height u64 BE
//!       | position u32 BE | final u8 (1: the occurrence's outcome is final)
//! ```
//!
//! Entries sort by (prefix, height, position); the checksum is the first 8
//! bytes of SHA-256 over the entries. A prefix is not an id: a lookup
//! confirms each candidate against the block it names (and so two ids
//! sharing a prefix are told apart).
//!
//! Which occurrence is indexed (one id can occur more than once: a replay,
//! or a transaction first included too early): the final one, and no later
//! occurrence after it; else the latest. The store writes no occurrence
//! after a final one (see `Store::commit`), so the newest entry of an id
//! is always the answer: lookups check the map, then the runs newest first.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::ids::Hash;

use super::StoreError;
use super::history::{be_u32, be_u64};

/// Bytes of one run entry.
pub const ENTRY_BYTES: usize = 21;
const HEADER_BYTES: u64 = 12;
const MAGIC: [u8; 4] = *b"CHX1";
/// The default number of ids in memory before they go out as a run.
pub const RUN_IDS: usize = 100_000;

/// Where an occurrence of a transaction is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// The block height.
    pub height: u64,
    /// The position in the block.
    pub index: u32,
    /// Whether that occurrence's outcome is final.
    pub is_final: bool,
}

/// A run: the ids of blocks `from..=to`.
#[derive(Debug)]
pub struct Run {
    /// The first height it covers.
    pub from: u64,
    /// The last height it covers.
    pub to: u64,
    path: PathBuf,
    file: File,
    count: u64,
}

impl Run {
    /// The run's file name.
    pub fn file_name(from: u64, to: u64) -> String {
        format!("{from:020}-{to:020}.txr")
    }

    /// Opens a run the store's meta names; a missing or malformed file is a
    /// typed error.
    pub fn open(dir: &Path, from: u64, to: u64) -> Result<Run, StoreError> {
        let path = dir.join(Run::file_name(from, to));
        let file = File::open(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                StoreError::MissingRun { path: path.clone() }
            } else {
                super::history_io(&path, e)
            }
        })?;
        let len = file
            .metadata()
            .map_err(|e| super::history_io(&path, e))?
            .len();
        let mut header = [0u8; 12];
        if len < HEADER_BYTES + 8 {
            return Err(run_damaged(&path, 0, "shorter than a run's header"));
        }
        file.read_exact_at(&mut header, 0)
            .map_err(|e| super::history_io(&path, e))?;
        if header[..4] != MAGIC {
            return Err(run_damaged(&path, 0, "no run magic"));
        }
        let count = be_u64(&header[4..12]);
        if HEADER_BYTES + count * ENTRY_BYTES as u64 + 8 != len {
            return Err(run_damaged(
                &path,
                4,
                "an entry count that does not match its size",
            ));
        }
        Ok(Run {
            from,
            to,
            path,
            file,
            count,
        })
    }

    /// Writes a run of `entries` (sorted here) and syncs it.
    pub fn write(
        dir: &Path,
        from: u64,
        to: u64,
        entries: Vec<(Hash, Location)>,
    ) -> Result<Run, StoreError> {
        let mut entries: Vec<(u64, Location)> = entries
            .into_iter()
            .map(|(id, l)| (prefix(&id), l))
            .collect();
        entries.sort_unstable_by_key(order);
        let mut entries = entries.into_iter();
        write_sorted(dir, from, to, entries.len() as u64, || Ok(entries.next()))
    }

    fn entry(&self, i: u64) -> Result<(u64, Location), StoreError> {
        let mut bytes = [0u8; ENTRY_BYTES];
        let offset = HEADER_BYTES + i * ENTRY_BYTES as u64;
        self.file
            .read_exact_at(&mut bytes, offset)
            .map_err(|e| super::history_io(&self.path, e))?;
        self.decode_entry(&bytes, offset)
    }

    /// One entry's bytes, checked to lie inside the run's window.
    fn decode_entry(
        &self,
        bytes: &[u8; ENTRY_BYTES],
        offset: u64,
    ) -> Result<(u64, Location), StoreError> {
        let prefix = be_u64(&bytes[..8]);
        let height = be_u64(&bytes[8..16]);
        let index = be_u32(&bytes[16..20]);
        if bytes[20] > 1 || height < self.from || height > self.to {
            return Err(run_damaged(&self.path, offset, "an entry outside its run"));
        }
        Ok((
            prefix,
            Location {
                height,
                index,
                is_final: bytes[20] == 1,
            },
        ))
    }

    /// At most `limit` locations whose prefix is `id`'s, newest first,
    /// reading only those: the end of the prefix's range by a binary
    /// search, then backwards.
    fn candidates(&self, id: &Hash, limit: usize) -> Result<Vec<Location>, StoreError> {
        let wanted = prefix(id);
        let (mut lo, mut hi) = (0u64, self.count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.entry(mid)?.0 <= wanted {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let mut found = Vec::new();
        let mut i = lo;
        while i > 0 && found.len() < limit {
            i -= 1;
            let (p, location) = self.entry(i)?;
            if p != wanted {
                break;
            }
            found.push(location);
        }
        Ok(found)
    }

    /// The run's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn run_damaged(path: &Path, offset: u64, what: &str) -> StoreError {
    StoreError::Damaged {
        file: path.to_path_buf(),
        offset,
        what: what.into(),
    }
}

fn prefix(id: &Hash) -> u64 {
    be_u64(&id.0[..8])
}

fn encode_entry(prefix: u64, location: &Location) -> [u8; ENTRY_BYTES] {
    let mut entry = [0u8; ENTRY_BYTES];
    entry[..8].copy_from_slice(&prefix.to_be_bytes());
    entry[8..16].copy_from_slice(&location.height.to_be_bytes());
    entry[16..20].copy_from_slice(&location.index.to_be_bytes());
    entry[20] = u8::from(location.is_final);
    entry
}

/// Reads one run's entries in order, front to back, checking its checksum
/// when the last entry has been read.
struct Cursor<'r> {
    run: &'r Run,
    reader: BufReader<File>,
    sum: Sha256,
    next: u64,
    head: Option<(u64, Location)>,
}

impl<'r> Cursor<'r> {
    fn new(run: &'r Run) -> Result<Cursor<'r>, StoreError> {
        let io = |e| super::history_io(&run.path, e);
        let mut file = run.file.try_clone().map_err(io)?;
        file.seek(SeekFrom::Start(HEADER_BYTES)).map_err(io)?;
        let mut cursor = Cursor {
            run,
            reader: BufReader::with_capacity(MERGE_BUFFER_BYTES, file),
            sum: Sha256::new(),
            next: 0,
            head: None,
        };
        cursor.advance()?;
        Ok(cursor)
    }

    /// Moves `head` to the next entry (`None` after the last, once the
    /// checksum matched).
    fn advance(&mut self) -> Result<(), StoreError> {
        let io = |e| super::history_io(&self.run.path, e);
        if self.next == self.run.count {
            self.head = None;
            let mut sum = [0u8; 8];
            self.reader.read_exact(&mut sum).map_err(io)?;
            if self.sum.clone().finalize()[..8] != sum {
                return Err(run_damaged(
                    &self.run.path,
                    HEADER_BYTES,
                    "checksum mismatch",
                ));
            }
            // Read once: a second call finds `next` past the count.
            self.next += 1;
            return Ok(());
        }
        if self.next > self.run.count {
            return Ok(());
        }
        let mut bytes = [0u8; ENTRY_BYTES];
        self.reader.read_exact(&mut bytes).map_err(io)?;
        self.sum.update(bytes);
        let offset = HEADER_BYTES + self.next * ENTRY_BYTES as u64;
        let entry = self.run.decode_entry(&bytes, offset)?;
        if let Some(previous) = self.head
            && order(&previous) > order(&entry)
        {
            return Err(run_damaged(&self.run.path, offset, "entries out of order"));
        }
        self.head = Some(entry);
        self.next += 1;
        Ok(())
    }
}

fn order((prefix, l): &(u64, Location)) -> (u64, u64, u32) {
    (*prefix, l.height, l.index)
}

/// Bytes each merge input and the output buffer.
const MERGE_BUFFER_BYTES: usize = 256 * 1024;

/// Merges runs covering adjacent windows (oldest first) into one run
/// covering them all, streaming: memory stays at a buffer per input,
/// however large the runs. Each input's checksum is checked as it ends,
/// before the output is renamed into place.
pub fn merge(dir: &Path, runs: &[Run]) -> Result<Run, StoreError> {
    let from = runs.first().map_or(0, |r| r.from);
    let to = runs.last().map_or(0, |r| r.to);
    for pair in runs.windows(2) {
        if pair[1].from != pair[0].to + 1 {
            return Err(StoreError::Corrupt(format!(
                "runs {}..={} and {}..={} are not adjacent",
                pair[0].from, pair[0].to, pair[1].from, pair[1].to
            )));
        }
    }
    let count = runs.iter().map(|r| r.count).sum();
    let mut cursors = runs
        .iter()
        .map(Cursor::new)
        .collect::<Result<Vec<_>, _>>()?;
    write_sorted(dir, from, to, count, || {
        // A handful of inputs: the smallest head by a scan.
        let mut best: Option<usize> = None;
        for (i, cursor) in cursors.iter().enumerate() {
            if let Some(head) = &cursor.head
                && best
                    .and_then(|b| cursors[b].head.as_ref())
                    .is_none_or(|current| order(head) < order(current))
            {
                best = Some(i);
            }
        }
        let Some(best) = best else { return Ok(None) };
        let cursor = &mut cursors[best];
        let head = cursor.head;
        cursor.advance()?;
        Ok(head)
    })
}

/// Writes `count` sorted entries, taken from `next` until it answers
/// `None`, as the run of `from..=to`, synced (file and folder) before it is
/// opened. On any error the partial file is removed.
fn write_sorted(
    dir: &Path,
    from: u64,
    to: u64,
    count: u64,
    next: impl FnMut() -> Result<Option<(u64, Location)>, StoreError>,
) -> Result<Run, StoreError> {
    let path = dir.join(Run::file_name(from, to));
    let tmp = path.with_extension("txr.tmp");
    let written = write_tmp(&tmp, count, next);
    if let Err(error) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(error);
    }
    std::fs::rename(&tmp, &path).map_err(|e| super::history_io(&path, e))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| super::history_io(dir, e))?;
    Run::open(dir, from, to)
}

fn write_tmp(
    tmp: &Path,
    count: u64,
    mut next: impl FnMut() -> Result<Option<(u64, Location)>, StoreError>,
) -> Result<(), StoreError> {
    let io = |e| super::history_io(tmp, e);
    let file = File::create(tmp).map_err(io)?;
    let mut out = BufWriter::with_capacity(MERGE_BUFFER_BYTES, file);
    let mut sum = Sha256::new();
    out.write_all(&MAGIC).map_err(io)?;
    out.write_all(&count.to_be_bytes()).map_err(io)?;
    let mut written = 0u64;
    while let Some((p, location)) = next()? {
        let entry = encode_entry(p, &location);
        sum.update(entry);
        out.write_all(&entry).map_err(io)?;
        written += 1;
    }
    if written != count {
        return Err(StoreError::Corrupt(format!(
            "a run of {count} entries got {written}"
        )));
    }
    out.write_all(&sum.finalize()[..8]).map_err(io)?;
    let file = out.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)?;
    Ok(())
}

/// The index: recent ids in memory, older ones in runs.
///
/// Besides transaction ids it holds *references*: the index key of a
/// payment's end-to-end id ([`crate::payment::EndToEndId::index_key`]) at
/// each indexed occurrence of a payment carrying it. Many payments may
/// carry one reference, so a reference has every location, and runs hold
/// both kinds of key side by side (a run entry is a prefix; the lookup
/// confirms each candidate against the block, which tells the kinds apart).
#[derive(Debug, Default)]
pub struct TxIndex {
    /// Ids of blocks above the last run, each at its indexed occurrence.
    pub recent: HashMap<Hash, Location>,
    /// References of blocks above the last run, each at every location,
    /// oldest first.
    pub references: HashMap<Hash, Vec<Location>>,
    /// Locations in `references`.
    pub reference_count: usize,
    /// Runs, oldest first, each covering the heights after the one before.
    pub runs: Vec<Run>,
    /// The first height the history holds (0 or 1: from genesis; above,
    /// the height of the snapshot the store started from).
    pub base: u64,
}

impl TxIndex {
    /// The first height the recent map covers.
    pub fn recent_from(&self) -> u64 {
        self.runs.last().map_or(self.base.max(1), |r| r.to + 1)
    }

    /// The indexed occurrence of `id`: the map, then each run newest first;
    /// `confirm(location)` says whether the transaction at a candidate
    /// location is `id` (a run holds only the id's prefix).
    pub fn find(
        &self,
        id: &Hash,
        mut confirm: impl FnMut(&Location) -> Result<bool, StoreError>,
    ) -> Result<Option<Location>, StoreError> {
        if let Some(location) = self.recent.get(id) {
            return Ok(Some(*location));
        }
        for run in self.runs.iter().rev() {
            for location in run.candidates(id, usize::MAX)? {
                if confirm(&location)? {
                    return Ok(Some(location));
                }
            }
        }
        Ok(None)
    }

    /// Up to `limit` candidate locations of `reference`, newest first:
    /// the map's exactly, then each run's by prefix (a caller confirms
    /// those against their blocks; two keys share a prefix with odds of
    /// 2^-64 per entry). Each run reads only the entries it returns.
    pub fn reference_candidates(
        &self,
        reference: &Hash,
        limit: usize,
    ) -> Result<Vec<Location>, StoreError> {
        let mut found: Vec<Location> = self
            .references
            .get(reference)
            .into_iter()
            .flatten()
            .rev()
            .take(limit)
            .copied()
            .collect();
        for run in self.runs.iter().rev() {
            if found.len() >= limit {
                break;
            }
            found.extend(run.candidates(reference, limit - found.len())?);
        }
        Ok(found)
    }

    /// How many keys the map holds (ids and reference occurrences): the
    /// size a run is cut at.
    pub fn recent_len(&self) -> usize {
        self.recent.len() + self.reference_count
    }

    /// Every key in memory with its location, for the next run.
    pub fn recent_entries(&self) -> Vec<(Hash, Location)> {
        let references = self
            .references
            .iter()
            .flat_map(|(key, locations)| locations.iter().map(|l| (*key, *l)));
        self.recent
            .iter()
            .map(|(id, location)| (*id, *location))
            .chain(references)
            .collect()
    }

    /// Takes in a block's located ids and references.
    pub fn extend(&mut self, located: Located) {
        self.recent.extend(located.ids);
        for (key, location) in located.references {
            self.references.entry(key).or_default().push(location);
            self.reference_count += 1;
        }
    }

    /// Forgets what is in memory (it went out as a run).
    pub fn clear_recent(&mut self) {
        self.recent.clear();
        self.references.clear();
        self.reference_count = 0;
    }
}

/// One block's entries for the index.
#[derive(Debug, Default)]
pub struct Located {
    /// Transaction ids at their indexed occurrence.
    pub ids: Vec<(Hash, Location)>,
    /// References at the same occurrences.
    pub references: Vec<(Hash, Location)>,
}
