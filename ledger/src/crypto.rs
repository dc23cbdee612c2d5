//! Hashing and signatures with a purpose.
//!
//! Every signed or hashed message starts with a domain tag naming its purpose
//! (transaction, precommit, ...), so bytes signed for one purpose never verify
//! for another. Tags are ASCII and end with a NUL byte, so no tag is a prefix
//! of another. Signatures are verified with `verify_strict` only (plain
//! `verify` accepts signatures under small-order keys for any message).

use ed25519_dalek::{Signature as DalekSignature, SigningKey, VerifyingKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error as _};
use sha2::{Digest, Sha256};

use crate::ids::{AccountId, Hash};

/// Purposes of signed and hashed messages. The tag bytes are part of the
/// protocol: changing one changes every signature.
pub mod tag {
    /// A transaction's signing bytes (and, hashed, its id).
    pub const TRANSACTION: &[u8] = b"clearhouse/transaction/v1\0";
    /// A block header, hashed into the block hash.
    pub const BLOCK_HEADER: &[u8] = b"clearhouse/block-header/v1\0";
    /// A proposal signed by a validator.
    pub const PROPOSAL: &[u8] = b"clearhouse/proposal/v1\0";
    /// A prevote signed by a validator.
    pub const PREVOTE: &[u8] = b"clearhouse/prevote/v1\0";
    /// A precommit signed by a validator (commit certificates hold these).
    pub const PRECOMMIT: &[u8] = b"clearhouse/precommit/v1\0";
    /// The validator set, hashed into every block header.
    pub const VALIDATOR_SET: &[u8] = b"clearhouse/validator-set/v1\0";
    /// The genesis document, hashed into the chain id.
    pub const GENESIS: &[u8] = b"clearhouse/genesis/v1\0";
    /// A bank's credit attestation (a later issue).
    pub const ATTESTATION: &[u8] = b"clearhouse/attestation/v1\0";
    /// Evidence of equivocation.
    pub const EVIDENCE: &[u8] = b"clearhouse/evidence/v1\0";
}

/// SHA-256 of the concatenation of `parts`.
pub fn sha256(parts: &[&[u8]]) -> Hash {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    Hash(hasher.finalize().into())
}

/// An ed25519 signature (64 bytes: R then s).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature(pub [u8; 64]);

impl Signature {
    /// Lower-case hex, 128 digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 128 hex digits.
    pub fn from_hex(text: &str) -> Result<Signature, CryptoError> {
        let mut out = [0u8; 64];
        hex::decode_to_slice(text, &mut out).map_err(|_| CryptoError::BadSignatureHex)?;
        Ok(Signature(out))
    }
}

impl std::fmt::Debug for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signature({}..)", &self.to_hex()[..16])
    }
}

// serde implements arrays only up to 32 elements; encode the 64 bytes as a
// tuple, which bincode writes as the raw bytes with no length.
impl Serialize for Signature {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let mut tuple = serializer.serialize_tuple(64)?;
        for byte in &self.0 {
            tuple.serialize_element(byte)?;
        }
        tuple.end()
    }
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Signature, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Signature;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("64 signature bytes")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Signature, A::Error> {
                let mut out = [0u8; 64];
                for (index, slot) in out.iter_mut().enumerate() {
                    *slot = seq
                        .next_element()?
                        .ok_or_else(|| A::Error::invalid_length(index, &self))?;
                }
                Ok(Signature(out))
            }
        }
        deserializer.deserialize_tuple(64, Visitor)
    }
}

/// Why a key or signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The 32 bytes are not a point on the curve.
    #[error("not a valid ed25519 public key")]
    InvalidPublicKey,
    /// The key has small order: signatures under it prove nothing.
    #[error("weak (small-order) ed25519 public key")]
    WeakPublicKey,
    /// `verify_strict` refused the signature.
    #[error("signature verification failed")]
    BadSignature,
    /// A signature given as text was not 128 hex digits.
    #[error("expected 128 hex digits (64 bytes) for a signature")]
    BadSignatureHex,
}

/// Checks that 32 bytes are a usable public key: on the curve and not of small
/// order. Registration of accounts and validators calls this.
pub fn check_public_key(key: &[u8; 32]) -> Result<VerifyingKey, CryptoError> {
    let key = VerifyingKey::from_bytes(key).map_err(|_| CryptoError::InvalidPublicKey)?;
    if key.is_weak() {
        return Err(CryptoError::WeakPublicKey);
    }
    Ok(key)
}

/// Verifies `signature` over `message` with `verify_strict`.
pub fn verify(key: &[u8; 32], message: &[u8], signature: &Signature) -> Result<(), CryptoError> {
    let key = check_public_key(key)?;
    key.verify_strict(message, &DalekSignature::from_bytes(&signature.0))
        .map_err(|_| CryptoError::BadSignature)
}

/// A secret key able to sign: held by accounts, banks and validators.
pub struct Keypair {
    signing: SigningKey,
}

impl Keypair {
    /// The key for a 32-byte secret seed.
    pub fn from_seed(seed: &[u8; 32]) -> Keypair {
        Keypair {
            signing: SigningKey::from_bytes(seed),
        }
    }

    /// The 32-byte secret seed (keep it secret).
    pub fn seed(&self) -> [u8; 32] {
        self.signing.to_bytes()
    }

    /// The public key as an account id.
    pub fn account(&self) -> AccountId {
        AccountId(self.signing.verifying_key().to_bytes())
    }

    /// Signs `message` (which must already start with its domain tag).
    pub fn sign(&self, message: &[u8]) -> Signature {
        use ed25519_dalek::Signer;
        Signature(self.signing.sign(message).to_bytes())
    }
}

impl std::fmt::Debug for Keypair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keypair({})", self.account())
    }
}
