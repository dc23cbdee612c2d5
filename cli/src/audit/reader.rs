//! Where an audit reads blocks from: a node's API, a node's data
//! folder, or an export file. Each yields raw canonical bytes; the auditor
//! decodes and checks them.

use std::collections::VecDeque;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clearhouse_ledger::Hash;
use clearhouse_ledger::codec::{BLOCK_BYTES_MAX, CERTIFICATE_BYTES_MAX};
use clearhouse_ledger::crypto::Keypair;
use clearhouse_ledger::store::StoredChain;
use clearhouse_node::api::auth::RequestSigner;
use clearhouse_node::api::dto::{self, CHAIN_BLOCKS_MAX};
use serde::de::DeserializeOwned;

use super::{AuditError, ChainSource};
use crate::tls::Trust;

/// The first bytes of an export file.
pub const EXPORT_MAGIC: &[u8; 24] = b"CLEARHOUSE-CHAIN-EXPORT\0";
/// The export format version this code writes and reads.
pub const EXPORT_VERSION: u32 = 1;

/// One block and its certificate, as bytes.
pub struct RawBlock {
    /// The canonical block.
    pub block: Vec<u8>,
    /// The canonical certificate.
    pub certificate: Vec<u8>,
}

/// A source of blocks in height order.
pub trait ChainReader {
    /// The next block, or `None` at the end.
    fn next_block(&mut self) -> Result<Option<RawBlock>, AuditError>;
    /// How many blocks there are, if known.
    fn total(&self) -> Option<u64>;
}

/// Opens the reader for a source.
pub fn open_reader(
    source: &ChainSource,
    chain_id: &Hash,
) -> Result<Box<dyn ChainReader>, AuditError> {
    Ok(match source {
        ChainSource::Node { url, auth, trust } => Box::new(NodeReader::new(
            &NodeApi::connect(url, auth.as_deref(), trust)?,
            chain_id,
        )?),
        ChainSource::DataDir(dir) => Box::new(DataDirReader::new(dir)?),
        ChainSource::File(path) => Box::new(FileReader::new(path, chain_id)?),
    })
}

/// A node's API as an auditor reads it: requests signed with the
/// auditor's key when one is given (`/v1/chain` is for auditors and
/// regulators).
#[derive(Clone)]
pub struct NodeApi {
    base: String,
    agent: ureq::Agent,
    signer: Option<RequestSigner>,
    status: dto::NodeStatus,
}

impl NodeApi {
    /// Reads the node's public status, and signs later requests with
    /// `key` (for this node and its chain).
    /// An https node's certificate is checked against `trust`.
    pub fn connect(url: &str, key: Option<&Keypair>, trust: &Trust) -> Result<NodeApi, AuditError> {
        let base = url.trim_end_matches('/').to_owned();
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(60)))
            .http_status_as_error(false)
            .tls_config(trust.config(&base))
            .build()
            .new_agent();
        let status: dto::NodeStatus = get_json(&agent, &base, "/v1/status", None)?;
        let signer = match key {
            Some(key) => {
                let chain_id = Hash::from_hex(&status.chain_id).map_err(|e| {
                    AuditError::Source(format!("the node's status has a bad chain id: {e}"))
                })?;
                Some(RequestSigner::new(
                    Keypair::from_seed(&key.seed()),
                    chain_id,
                    &status.node,
                ))
            }
            None => None,
        };
        Ok(NodeApi {
            base,
            agent,
            signer,
            status,
        })
    }

    /// The status read at connection.
    pub fn status(&self) -> &dto::NodeStatus {
        &self.status
    }

    /// GETs `path` (with its query) as a `T`.
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, AuditError> {
        get_json(&self.agent, &self.base, path, self.signer.as_ref())
    }
}

/// GETs a node's answer as a `T`, mapping connection failures to
/// [`AuditError::Unreachable`] and the node's error body to
/// [`AuditError::Source`] with its message.
fn get_json<T: DeserializeOwned>(
    agent: &ureq::Agent,
    base: &str,
    path: &str,
    signer: Option<&RequestSigner>,
) -> Result<T, AuditError> {
    let url = format!("{base}{path}");
    let url = url.as_str();
    let mut request = agent.get(url);
    if let Some(signer) = signer {
        request = request.header("authorization", signer.header("GET", path, b""));
    }
    let mut response = request
        .call()
        .map_err(|e| AuditError::Unreachable(format!("{url}: {e}")))?;
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .with_config()
        .limit(256 * 1024 * 1024)
        .read_to_string()
        .map_err(|e| AuditError::Source(format!("{url}: unreadable answer: {e}")))?;
    if !(200..300).contains(&status) {
        let body = serde_json::from_str::<dto::ErrorBody>(&text).ok();
        return Err(match body {
            Some(body) if matches!(status, 401 | 403) => AuditError::Denied(format!(
                "the node refuses the request ({}): {}; reading a whole chain from a node \
                 needs an auditor's or a regulator's key (--auth-key FILE)",
                body.error.code, body.error.message
            )),
            Some(body) => AuditError::Source(format!("the node says: {}", body.error.message)),
            None => AuditError::Source(format!("{url}: HTTP {status}")),
        });
    }
    serde_json::from_str(&text)
        .map_err(|e| AuditError::Source(format!("{url}: malformed answer: {e}")))
}

/// Pages through `/v1/chain` up to the tip seen at the start.
pub struct NodeReader {
    api: NodeApi,
    next: u64,
    tip: u64,
    buffer: VecDeque<RawBlock>,
}

impl NodeReader {
    /// Starts at height 1; checks the node serves `chain_id`.
    pub fn new(api: &NodeApi, chain_id: &Hash) -> Result<NodeReader, AuditError> {
        let status = api.status();
        let served = &status.chain_id;
        if *served != chain_id.to_hex() {
            return Err(AuditError::Source(format!(
                "the node serves chain {served}, the genesis gives {chain_id}"
            )));
        }
        let tip = status.height;
        Ok(NodeReader {
            api: api.clone(),
            next: 1,
            tip,
            buffer: VecDeque::new(),
        })
    }
}

impl ChainReader for NodeReader {
    fn next_block(&mut self) -> Result<Option<RawBlock>, AuditError> {
        if self.buffer.is_empty() && self.next <= self.tip {
            let page: dto::ChainPage = self.api.get(&format!(
                "/v1/chain?from={}&count={CHAIN_BLOCKS_MAX}",
                self.next
            ))?;
            if page.blocks.is_empty() {
                return Err(AuditError::Failed {
                    height: self.next,
                    what: "the node does not serve this block".into(),
                });
            }
            for entry in page.blocks {
                let bytes = |name: &str, text: &str| {
                    hex::decode(text).map_err(|e| {
                        AuditError::Source(format!("malformed {name} in /v1/chain: {e}"))
                    })
                };
                self.buffer.push_back(RawBlock {
                    block: bytes("block", &entry.block)?,
                    certificate: bytes("certificate", &entry.certificate)?,
                });
                self.next += 1;
            }
        }
        Ok(self.buffer.pop_front())
    }

    fn total(&self) -> Option<u64> {
        Some(self.tip)
    }
}

/// Reads a node's store folder in place. The history is append-only files
/// opened read-only, without sled and without the node's lock, so an audit
/// can run beside a running node and cannot change what it reads: the
/// reader stops at the last whole record it found when opened.
pub struct DataDirReader {
    chain: StoredChain,
    next: u64,
    total: u64,
}

impl DataDirReader {
    /// Opens `dir` (a node's data folder, or its `store` folder).
    pub fn new(dir: &Path) -> Result<DataDirReader, AuditError> {
        let store = if dir.join("store").is_dir() {
            dir.join("store")
        } else {
            dir.to_path_buf()
        };
        let is_store = store.join("history").is_dir()
            || store.join("conf").exists()
            || store.join("db").exists();
        if !is_store {
            return Err(AuditError::Source(format!(
                "{} is not a node's data folder",
                dir.display()
            )));
        }
        let chain = StoredChain::open(&store)
            .map_err(|e| AuditError::Source(format!("{}: {e}", store.display())))?;
        let first = chain.first_height();
        if first > 1 {
            return Err(AuditError::Source(format!(
                "{} holds the chain from height {first} only (it started from a snapshot \
                 or prunes old blocks): verify the folder (or the API) of an archival node",
                store.display()
            )));
        }
        let total = chain.tip_height();
        Ok(DataDirReader {
            chain,
            next: 1,
            total,
        })
    }
}

impl ChainReader for DataDirReader {
    fn next_block(&mut self) -> Result<Option<RawBlock>, AuditError> {
        let read = |e| AuditError::Source(format!("reading the store: {e}"));
        if self.next > self.total {
            return Ok(None);
        }
        let block = self.chain.block(self.next).map_err(read)?;
        let certificate = self.chain.certificate(self.next).map_err(read)?;
        let (Some(block), Some(certificate)) = (block, certificate) else {
            return Err(AuditError::Failed {
                height: self.next,
                what: "the store lacks this block or its certificate".into(),
            });
        };
        self.next += 1;
        Ok(Some(RawBlock { block, certificate }))
    }

    fn total(&self) -> Option<u64> {
        Some(self.total)
    }
}

/// Reads an export file.
pub struct FileReader {
    file: BufReader<std::fs::File>,
    path: PathBuf,
    height: u64,
}

impl FileReader {
    /// Opens an export and checks its header names `chain_id`.
    pub fn new(path: &Path, chain_id: &Hash) -> Result<FileReader, AuditError> {
        let io = |e: std::io::Error| AuditError::Source(format!("{}: {e}", path.display()));
        let mut file = BufReader::new(std::fs::File::open(path).map_err(io)?);
        let mut header = [0u8; 24 + 4 + 32];
        file.read_exact(&mut header).map_err(io)?;
        if &header[..24] != EXPORT_MAGIC {
            return Err(AuditError::Source(format!(
                "{} is not a Clearhouse chain export",
                path.display()
            )));
        }
        let version = u32::from_be_bytes([header[24], header[25], header[26], header[27]]);
        if version != EXPORT_VERSION {
            return Err(AuditError::Source(format!(
                "export version {version}, this tool reads {EXPORT_VERSION}"
            )));
        }
        if header[28..] != chain_id.0 {
            return Err(AuditError::Source(format!(
                "the export is of chain {}, the genesis gives {chain_id}",
                hex::encode(&header[28..])
            )));
        }
        Ok(FileReader {
            file,
            path: path.to_path_buf(),
            height: 0,
        })
    }

    /// Reads one length-prefixed part; `None` at a clean end of file.
    fn part(&mut self, limit: usize, what: &str) -> Result<Option<Vec<u8>>, AuditError> {
        let height = self.height + 1;
        let mut len = [0u8; 4];
        match self.file.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(AuditError::Source(format!("{}: {e}", self.path.display()))),
        }
        let len = u32::from_be_bytes(len) as usize;
        if len > limit {
            return Err(AuditError::Failed {
                height,
                what: format!("{what} of {len} bytes exceeds the limit of {limit}"),
            });
        }
        let mut bytes = vec![0u8; len];
        self.file
            .read_exact(&mut bytes)
            .map_err(|e| AuditError::Failed {
                height,
                what: format!("the export ends inside the {what}: {e}"),
            })?;
        Ok(Some(bytes))
    }
}

impl ChainReader for FileReader {
    fn next_block(&mut self) -> Result<Option<RawBlock>, AuditError> {
        let Some(block) = self.part(BLOCK_BYTES_MAX, "block")? else {
            return Ok(None);
        };
        let certificate = self
            .part(CERTIFICATE_BYTES_MAX, "certificate")?
            .ok_or_else(|| AuditError::Failed {
                height: self.height + 1,
                what: "the export ends before the certificate".into(),
            })?;
        self.height += 1;
        Ok(Some(RawBlock { block, certificate }))
    }

    fn total(&self) -> Option<u64> {
        None
    }
}
