//! Payment data: what a bank's back office reconciles a transfer with.
//!
//! A [`Body::Payment`](crate::Body::Payment) is a transfer that carries an
//! end-to-end id (ISO 20022 `EndToEndId`, `Max35Text`) and remittance
//! information (ISO 20022 unstructured remittance, `Max140Text`). Both are
//! inside the signed bytes: a bank cannot change a customer's reference
//! without breaking the customer's signature. Each type checks itself on
//! construction and on decode, so a transaction carrying a bad one never
//! decodes.

use serde::{Deserialize, Serialize};

use crate::crypto::{sha256, tag};
use crate::ids::{Hash, checked_text};
use crate::sealed::SealedDetails;

/// Most bytes of an end-to-end id (ISO 20022 `Max35Text`).
pub const END_TO_END_ID_BYTES_MAX: usize = 35;
/// ISO 20022's end-to-end id for "the payer gave none".
pub const NOT_PROVIDED: &str = "NOTPROVIDED";
/// Most bytes of remittance information (ISO 20022 `Max140Text`).
pub const REMITTANCE_BYTES_MAX: usize = 140;

/// Malformed payment data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentDataError {
    /// Not a valid end-to-end id.
    #[error(
        "invalid end-to-end id {0:?}: use 1 to 35 printable ASCII characters, not starting or ending with a space"
    )]
    EndToEndId(String),
    /// Not valid remittance information.
    #[error(
        "invalid remittance information: at most 140 bytes of UTF-8 text without control characters ({0} bytes given)"
    )]
    Remittance(usize),
}

/// The payer's reference for a payment, carried unchanged from end to end
/// (ISO 20022 `EndToEndId`): 1 to 35 bytes of printable ASCII (`0x20` to
/// `0x7e`), not starting or ending with a space. `NOTPROVIDED` is the ISO
/// convention for "none".
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct EndToEndId(String);

checked_text!(EndToEndId, PaymentDataError);

impl EndToEndId {
    fn checked(text: String) -> Result<EndToEndId, PaymentDataError> {
        let bytes = text.as_bytes();
        let ok = !bytes.is_empty()
            && bytes.len() <= END_TO_END_ID_BYTES_MAX
            && bytes.iter().all(|b| (0x20..=0x7e).contains(b))
            && bytes.first() != Some(&b' ')
            && bytes.last() != Some(&b' ');
        if ok {
            Ok(EndToEndId(text))
        } else {
            Err(PaymentDataError::EndToEndId(text))
        }
    }

    /// Whether this is ISO 20022's `NOTPROVIDED` (the payer gave none): a
    /// payment carrying it is not indexed by it, as it names no payment.
    pub fn is_not_provided(&self) -> bool {
        self.0 == NOT_PROVIDED
    }

    /// The key the store indexes payments carrying this id under: a domain
    /// tag, then the id's bytes, hashed (a different tag from transaction
    /// ids, so the two never collide by construction).
    pub fn index_key(&self) -> Hash {
        sha256(&[tag::END_TO_END_ID, self.0.as_bytes()])
    }
}

/// Unstructured remittance information (what the payment is for, e.g.
/// `invoice 2026-118`): 0 to 140 bytes of UTF-8 without control
/// characters; empty means none.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Deserialize)]
#[serde(try_from = "String")]
pub struct Remittance(String);

checked_text!(Remittance, PaymentDataError);

impl Remittance {
    fn checked(text: String) -> Result<Remittance, PaymentDataError> {
        if text.len() <= REMITTANCE_BYTES_MAX && !text.chars().any(char::is_control) {
            Ok(Remittance(text))
        } else {
            Err(PaymentDataError::Remittance(text.len()))
        }
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A payment's data in the clear.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentData {
    /// The payer's end-to-end reference.
    pub end_to_end_id: EndToEndId,
    /// What the payment is for (may be empty).
    pub remittance: Remittance,
}

/// How a payment carries its data. Grows by appending variants; a
/// variant's index is part of the signing bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PaymentDetails {
    /// Variant 0: in the clear, readable by every node that holds the
    /// block.
    Clear(PaymentData),
    /// Variant 1: sealed for the banks on both sides and the regulators
    /// ([`crate::sealed`]); other nodes see only who it is sealed for.
    Sealed(SealedDetails),
}

impl PaymentDetails {
    /// The data if it travels in the clear.
    pub fn clear(&self) -> Option<&PaymentData> {
        match self {
            PaymentDetails::Clear(data) => Some(data),
            PaymentDetails::Sealed(_) => None,
        }
    }

    /// The sealed form, if sealed.
    pub fn sealed(&self) -> Option<&SealedDetails> {
        match self {
            PaymentDetails::Clear(_) => None,
            PaymentDetails::Sealed(sealed) => Some(sealed),
        }
    }
}
