//! Identifiers: hashes, account ids (ed25519 public keys), member (bank) ids and
//! asset codes. Every identifier validates itself on construction and on decode,
//! so a value of one of these types is always well formed.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A SHA-256 digest: transaction ids, block hashes, Merkle and state roots.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// The all-zero hash: the parent of the first block.
    pub const ZERO: Hash = Hash([0; 32]);

    /// Parses 64 hex digits.
    pub fn from_hex(text: &str) -> Result<Hash, IdError> {
        Ok(Hash(parse_hex32(text)?))
    }

    /// Lower-case hex, 64 digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", &self.to_hex()[..16])
    }
}

/// The chain id is the hash of the canonical genesis encoding
/// ([`crate::genesis::Genesis::chain_id`]): two chains with the same name but
/// different genesis files never accept each other's signatures.
pub type ChainId = Hash;

/// An account: an ed25519 public key in its 32-byte compressed form.
///
/// Holding an `AccountId` does not prove the bytes are a usable key; keys are
/// checked (decompression, small order) when an account is registered
/// ([`crate::crypto::check_public_key`]) and when a signature is verified.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AccountId(pub [u8; 32]);

impl AccountId {
    /// Parses 64 hex digits.
    pub fn from_hex(text: &str) -> Result<AccountId, IdError> {
        Ok(AccountId(parse_hex32(text)?))
    }

    /// Lower-case hex, 64 digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountId({})", &self.to_hex()[..16])
    }
}

/// Most bytes a member id may have.
pub const MEMBER_ID_BYTES_MAX: usize = 32;
/// Most bytes an asset code may have.
pub const ASSET_CODE_BYTES_MAX: usize = 12;

/// The shared half of a text newtype checked on construction and decode
/// (`MemberId`, `Category`, the payment data): `new` and `as_str`, and
/// `TryFrom<String>`, `Into<String>`, `Serialize` (its text, the bytes a
/// `String` gives, without copying), `Display` and `Debug`. The type
/// supplies `fn checked(String) -> Result<Self, $error>`, which takes the
/// text so decoding allocates once.
macro_rules! checked_text {
    ($name:ident, $error:ty) => {
        impl $name {
            /// Validates and wraps `text`.
            pub fn new(text: &str) -> Result<$name, $error> {
                Self::checked(text.to_owned())
            }

            /// The text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = $error;
            fn try_from(text: String) -> Result<Self, Self::Error> {
                $name::checked(text)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, concat!(stringify!($name), "({:?})"), self.0)
            }
        }
    };
}
pub(crate) use checked_text;

/// A member bank's short, stable identifier, e.g. `bank-a`: 1 to 32 bytes of
/// `a-z`, `0-9` and `-`, not starting with `-`. Display names live elsewhere.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct MemberId(String);

checked_text!(MemberId, IdError);

impl MemberId {
    /// Wraps `text` if it is well formed, or says why not.
    fn checked(text: String) -> Result<MemberId, IdError> {
        let ok = !text.is_empty()
            && text.len() <= MEMBER_ID_BYTES_MAX
            && !text.starts_with('-')
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(MemberId(text))
        } else {
            Err(IdError::MemberId(text))
        }
    }
}

/// An asset code, e.g. `CNY`: 1 to 12 bytes of `A-Z` and `0-9`, starting with a letter.
///
/// Held inline (no heap): codes are in every transaction and every balance,
/// so encoding, decoding and cloning them must not allocate. It encodes
/// exactly as the `String` it reads as, and orders as that string.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct AssetCode {
    len: u8,
    bytes: [u8; ASSET_CODE_BYTES_MAX],
}

impl AssetCode {
    /// Validates and wraps an asset code.
    pub fn new(text: &str) -> Result<AssetCode, IdError> {
        let ok = !text.is_empty()
            && text.len() <= ASSET_CODE_BYTES_MAX
            && text.as_bytes()[0].is_ascii_uppercase()
            && text
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        let len = u8::try_from(text.len()).ok().filter(|_| ok);
        match len {
            Some(len) => {
                let mut bytes = [0u8; ASSET_CODE_BYTES_MAX];
                bytes[..text.len()].copy_from_slice(text.as_bytes());
                Ok(AssetCode { len, bytes })
            }
            None => Err(IdError::AssetCode(text.to_owned())),
        }
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        // Only validated ASCII is ever stored.
        std::str::from_utf8(self.code()).unwrap_or_default()
    }

    /// The code's bytes (ASCII).
    fn code(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl PartialOrd for AssetCode {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for AssetCode {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // Byte order is `str` order; no UTF-8 check per comparison (codes
        // key every balance map).
        self.code().cmp(other.code())
    }
}

impl Serialize for AssetCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for AssetCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = AssetCode;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an asset code")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<AssetCode, E> {
                AssetCode::new(text).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

impl TryFrom<String> for AssetCode {
    type Error = IdError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        AssetCode::new(&text)
    }
}

impl From<AssetCode> for String {
    fn from(code: AssetCode) -> String {
        code.as_str().to_owned()
    }
}

impl fmt::Display for AssetCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for AssetCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AssetCode({})", self.as_str())
    }
}

/// A malformed identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Not 64 hex digits.
    #[error("expected 64 hex digits (32 bytes), got {0:?}")]
    Hex(String),
    /// Not a valid member id.
    #[error("invalid member id {0:?}: use 1 to 32 of a-z, 0-9 and '-', not starting with '-'")]
    MemberId(String),
    /// Not a valid asset code.
    #[error("invalid asset code {0:?}: use 1 to 12 of A-Z and 0-9, starting with a letter")]
    AssetCode(String),
    /// Not a valid attestation category.
    #[error(
        "invalid attestation category {0:?}: use 1 to 32 of a-z, 0-9, '-' and '_', starting with a letter"
    )]
    Category(String),
}

/// Most bytes of an attestation category.
pub const CATEGORY_BYTES_MAX: usize = 32;

/// The category of a bank's credit attestation, e.g. `repayment` or
/// `fraud-report`: 1 to 32 bytes of `a-z`, `0-9`, `-` and `_`, starting with
/// a letter. Checked on construction and on decode, so a transaction
/// carrying a bad one never decodes.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct Category(String);

checked_text!(Category, IdError);

impl Category {
    /// Wraps `text` if it is well formed, or says why not.
    fn checked(text: String) -> Result<Category, IdError> {
        let ok = text.len() <= CATEGORY_BYTES_MAX
            && text.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if ok {
            Ok(Category(text))
        } else {
            Err(IdError::Category(text))
        }
    }
}

fn parse_hex32(text: &str) -> Result<[u8; 32], IdError> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).map_err(|_| IdError::Hex(text.to_owned()))?;
    Ok(out)
}
