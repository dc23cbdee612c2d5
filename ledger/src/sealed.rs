//! Sealed payment details: a payment's end-to-end id and remittance
//! information encrypted to the banks on both sides (and the regulators), so
//! that the validators of other banks order and execute the payment without
//! reading them.
//!
//! Each member bank, regulator and auditor may publish a *sealing key* in
//! genesis: an X25519 public key ([`SealingKey`], in its canonical form);
//! the matching secret ([`SealingSecret`]) stays with its node and back
//! office. A payer seals its [`PaymentData`] once, for every recipient, in
//! the manner of HPKE's base mode (RFC 9180) with one content key:
//!
//! 1. from 32 fresh random bytes `seed`, derive the ephemeral X25519
//!    secret `e` (public `E`) and the content key `K`:
//!    `HKDF-SHA-256(salt = "clearhouse/sealed-seed/v1\0", ikm = seed,
//!    info = "ephemeral" ‖ context)` and the same with `info = "content" ‖
//!    context`, 32 bytes each. Bound to the context, the two keys differ for
//!    every payment even if a client reused a seed by mistake;
//! 2. the key commitment `C = SHA-256("clearhouse/sealed-commit/v1\0" ‖ K ‖
//!    context)`: every recipient that opens checks `K` against it, so all
//!    who open read the same data (ChaCha20-Poly1305 alone does not commit
//!    to its key);
//! 3. per recipient key `P`: `W = HKDF-SHA-256(salt = E ‖ P, ikm = X25519(e,
//!    P), info = "clearhouse/sealed-wrap/v1\0")`, 32 bytes, and the wrapped
//!    key `ChaCha20-Poly1305(W, nonce = 0^12, aad = context).seal(K)` (32
//!    bytes and a 16-byte tag);
//! 4. the plaintext: the data's canonical encoding (the same bytes
//!    `PaymentDetails::Clear` carries) behind its length as a big-endian
//!    `u16`, zero-padded to [`SEALED_PLAINTEXT_BYTES`], so every sealed
//!    payment has the same size whatever its reference says;
//! 5. the ciphertext `ChaCha20-Poly1305(K, nonce = 0^12, aad = context ‖
//!    E).seal(plaintext)`, [`SEALED_CIPHERTEXT_BYTES`].
//!
//! On the wire: `E` (32), `C` (32), the recipients (a `u64` count, then
//! each key, wrapped key and tag), the ciphertext (a `u64` length, then its
//! bytes). The all-zero nonces are sound because each key (`W` per
//! recipient and `K`) encrypts exactly one message. The `context` is
//! `SHA-256("clearhouse/sealed-context/v1\0" ‖ chain id ‖ sender ‖ payee ‖
//! asset length (u8) ‖ asset ‖ amount (u128, big-endian))`
//! ([`SealingContext`]): the details open only as the details of a payment
//! of that amount between those accounts. (The sender itself may repeat a
//! sealed envelope in a later identical payment; nobody else can, as the
//! sender's signature covers it.)
//!
//! Validators check the form (at most [`SEALED_RECIPIENTS_MAX`] recipients,
//! sorted and distinct, the exact ciphertext size) when decoding, and the
//! state transition checks who it is sealed for (`RejectReason::
//! NoSealingKey`, `NotSealedFor`, `SealedForOutsider`, `UnknownSealingKey`):
//! both banks and every regulator, and no one else but auditors. Nobody but
//! a recipient can check that its copy of `K` opens: a payer who wraps
//! garbage for a recipient has signed a payment that recipient cannot read,
//! and that recipient's node reports it `sealed_unreadable`.
//!
//! What a validator of a third bank still learns is in the README's
//! "Confidential payment details".

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hkdf::Hkdf;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use crate::amount::Amount;
use crate::codec;
use crate::crypto::{sha256, tag};
use crate::ids::{AccountId, AssetCode, ChainId, Hash};
use crate::payment::PaymentData;

/// Most recipients a sealed payment may name: both banks, and the
/// regulators and auditors with room to spare.
pub const SEALED_RECIPIENTS_MAX: usize = 8;

/// Bytes of the padded plaintext: a `u16` length and the encoded data (at
/// most 8 + 35 + 8 + 140 = 191 bytes), zero-padded.
pub const SEALED_PLAINTEXT_BYTES: usize = 200;

/// Bytes of the ciphertext: the padded plaintext and its 16-byte tag.
pub const SEALED_CIPHERTEXT_BYTES: usize = SEALED_PLAINTEXT_BYTES + 16;

/// Why details could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// Sealing for no one, or for more than the limit.
    #[error("sealed details need 1 to {SEALED_RECIPIENTS_MAX} recipients, not {0}")]
    Recipients(usize),
    /// A recipient key is a low-order point (every secret agrees on the
    /// same shared value with it, so it protects nothing) or not in its
    /// canonical encoding.
    #[error("sealing key {0} is not usable (a low-order point, or not canonical)")]
    WeakKey(SealingKey),
    /// The ciphertext was not sealed for this secret's key.
    #[error("these details are not sealed for sealing key {0}")]
    NotARecipient(SealingKey),
    /// Sealed for this key, but the bytes do not open under this payment's
    /// context: damaged, or sealed for another payment.
    #[error("sealed details do not open: {0}")]
    Damaged(&'static str),
    /// Not a sealing key (64 hex digits).
    #[error("invalid sealing key {0:?}: expected 64 hex digits")]
    BadHex(String),
}

/// An X25519 public key details are sealed to.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SealingKey(pub [u8; 32]);

impl SealingKey {
    /// Parses 64 hex digits and refuses a low-order point.
    pub fn from_hex(text: &str) -> Result<SealingKey, SealError> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(text, &mut out).map_err(|_| SealError::BadHex(text.to_owned()))?;
        let key = SealingKey(out);
        key.check()?;
        Ok(key)
    }

    /// Lower-case hex, 64 digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Refuses a non-canonical encoding (the top bit set, or a value at or
    /// above p = 2^255 - 19: X25519 would read it as another key's bytes,
    /// so one key could be registered twice) and a low-order point (a
    /// clamped scalar, a multiple of the cofactor, times such a point is
    /// the identity, whatever the scalar).
    pub fn check(&self) -> Result<(), SealError> {
        let bytes = &self.0;
        let at_least_p =
            bytes[31] == 0x7f && bytes[1..31].iter().all(|b| *b == 0xff) && bytes[0] >= 0xed;
        if bytes[31] & 0x80 != 0 || at_least_p {
            return Err(SealError::WeakKey(*self));
        }
        let probe = StaticSecret::from([0x5a; 32]);
        if probe
            .diffie_hellman(&PublicKey::from(self.0))
            .was_contributory()
        {
            Ok(())
        } else {
            Err(SealError::WeakKey(*self))
        }
    }
}

impl std::fmt::Display for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SealingKey({}..)", &self.to_hex()[..16])
    }
}

/// The X25519 secret of a [`SealingKey`] (zeroed when dropped), with its
/// public key computed once.
#[derive(Clone)]
pub struct SealingSecret {
    secret: StaticSecret,
    public: SealingKey,
}

impl SealingSecret {
    /// The secret from 32 bytes (clamped when used, as X25519 does).
    pub fn from_bytes(bytes: [u8; 32]) -> SealingSecret {
        let secret = StaticSecret::from(bytes);
        let public = SealingKey(PublicKey::from(&secret).to_bytes());
        SealingSecret { secret, public }
    }

    /// Its 32 bytes, for a key file.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.secret.to_bytes()
    }

    /// Its public key.
    pub fn public(&self) -> SealingKey {
        self.public
    }
}

impl std::fmt::Debug for SealingSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SealingSecret(public {:?})", self.public())
    }
}

/// What sealed details are bound to: the payment's chain, parties, asset
/// and amount (see the module docs for the bytes).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SealingContext(pub Hash);

impl SealingContext {
    /// The context of a payment of `amount` `asset` from `sender` to `to`.
    pub fn new(
        chain_id: &ChainId,
        sender: &AccountId,
        to: &AccountId,
        asset: &AssetCode,
        amount: Amount,
    ) -> SealingContext {
        let code = asset.as_str().as_bytes();
        // An asset code is at most 12 bytes (`AssetCode` checks it).
        let code_len = [u8::try_from(code.len()).unwrap_or(u8::MAX)];
        SealingContext(sha256(&[
            tag::SEALED_CONTEXT,
            &chain_id.0,
            &sender.0,
            &to.0,
            &code_len,
            code,
            &amount.0.to_be_bytes(),
        ]))
    }
}

/// One recipient's copy of the content key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrappedKey {
    /// The recipient's sealing key.
    pub recipient: SealingKey,
    /// The content key, encrypted under the recipient's wrap key.
    pub key: [u8; 32],
    /// Its Poly1305 tag.
    pub tag: [u8; 16],
}

/// Payment details sealed for their recipients: [`crate::payment::PaymentDetails::Sealed`].
/// Well formed by construction and on decode: 1 to 8 recipients in
/// strictly ascending key order, a ciphertext of exactly
/// [`SEALED_CIPHERTEXT_BYTES`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SealedWire")]
pub struct SealedDetails {
    ephemeral: [u8; 32],
    commitment: [u8; 32],
    recipients: Vec<WrappedKey>,
    ciphertext: Vec<u8>,
}

/// The same fields, unchecked: what decoding reads before [`SealedDetails`]
/// accepts it.
#[derive(Deserialize)]
struct SealedWire {
    ephemeral: [u8; 32],
    commitment: [u8; 32],
    recipients: Vec<WrappedKey>,
    ciphertext: Vec<u8>,
}

/// Why decoded sealed details were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "malformed sealed details: 1 to {SEALED_RECIPIENTS_MAX} recipients in ascending order and {SEALED_CIPHERTEXT_BYTES} ciphertext bytes"
)]
pub struct MalformedSealed;

impl TryFrom<SealedWire> for SealedDetails {
    type Error = MalformedSealed;

    fn try_from(wire: SealedWire) -> Result<SealedDetails, MalformedSealed> {
        let sorted = wire
            .recipients
            .windows(2)
            .all(|pair| pair[0].recipient < pair[1].recipient);
        if wire.recipients.is_empty()
            || wire.recipients.len() > SEALED_RECIPIENTS_MAX
            || !sorted
            || wire.ciphertext.len() != SEALED_CIPHERTEXT_BYTES
        {
            return Err(MalformedSealed);
        }
        Ok(SealedDetails {
            ephemeral: wire.ephemeral,
            commitment: wire.commitment,
            recipients: wire.recipients,
            ciphertext: wire.ciphertext,
        })
    }
}

const ZERO_NONCE: [u8; 12] = [0; 12];

fn wrap_key(ephemeral: &[u8; 32], recipient: &SealingKey, shared: &[u8; 32]) -> [u8; 32] {
    let mut salt = [0u8; 64];
    salt[..32].copy_from_slice(ephemeral);
    salt[32..].copy_from_slice(&recipient.0);
    let mut out = [0u8; 32];
    // 32 bytes is far below HKDF-SHA-256's 8,160-byte output limit.
    let _ = Hkdf::<Sha256>::new(Some(&salt), shared).expand(tag::SEALED_WRAP, &mut out);
    out
}

/// One of the two keys a seed gives for a context (module docs, step 1).
fn derive(seed: &[u8; 32], what: &[u8], context: &SealingContext) -> Zeroizing<[u8; 32]> {
    let mut info = Vec::with_capacity(what.len() + 32);
    info.extend_from_slice(what);
    info.extend_from_slice(&context.0.0);
    let mut out = Zeroizing::new([0u8; 32]);
    // 32 bytes is far below HKDF-SHA-256's 8,160-byte output limit.
    let _ = Hkdf::<Sha256>::new(Some(tag::SEALED_SEED), seed).expand(&info, out.as_mut());
    out
}

fn commitment(content_key: &[u8], context: &SealingContext) -> [u8; 32] {
    sha256(&[tag::SEALED_COMMIT, content_key, &context.0.0]).0
}

fn content_aad(context: &SealingContext, ephemeral: &[u8; 32]) -> [u8; 64] {
    let mut aad = [0u8; 64];
    aad[..32].copy_from_slice(&context.0.0);
    aad[32..].copy_from_slice(ephemeral);
    aad
}

impl SealedDetails {
    /// Seals `data` for `recipients` (sorted and deduplicated here) under
    /// `context`. `seed` must be fresh random bytes for every payment (the
    /// ledger has no randomness of its own; the caller draws them, and
    /// golden vectors fix them); the keys are derived from it and the
    /// context.
    pub fn seal(
        data: &PaymentData,
        recipients: &[SealingKey],
        context: &SealingContext,
        seed: [u8; 32],
    ) -> Result<SealedDetails, SealError> {
        let seed = Zeroizing::new(seed);
        let mut keys = recipients.to_vec();
        keys.sort();
        keys.dedup();
        if keys.is_empty() || keys.len() > SEALED_RECIPIENTS_MAX {
            return Err(SealError::Recipients(keys.len()));
        }
        let secret = StaticSecret::from(*derive(&seed, b"ephemeral", context));
        let content_key = derive(&seed, b"content", context);
        let ephemeral_public = PublicKey::from(&secret).to_bytes();
        let mut wrapped = Vec::with_capacity(keys.len());
        // Keys were checked when parsed (`SealingKey::from_hex`, genesis);
        // a low-order one still fails here.
        for recipient in keys {
            let shared = secret.diffie_hellman(&PublicKey::from(recipient.0));
            if !shared.was_contributory() {
                return Err(SealError::WeakKey(recipient));
            }
            let wrap = Zeroizing::new(wrap_key(&ephemeral_public, &recipient, shared.as_bytes()));
            let sealed = ChaCha20Poly1305::new(Key::from_slice(wrap.as_ref()))
                .encrypt(
                    Nonce::from_slice(&ZERO_NONCE),
                    Payload {
                        msg: content_key.as_ref(),
                        aad: &context.0.0,
                    },
                )
                .map_err(|_| SealError::Damaged("the content key did not seal"))?;
            let (key, key_tag) = split_wrapped(&sealed)?;
            wrapped.push(WrappedKey {
                recipient,
                key,
                tag: key_tag,
            });
        }
        let encoded = Zeroizing::new(
            codec::encode(data).map_err(|_| SealError::Damaged("the data did not encode"))?,
        );
        let length = u16::try_from(encoded.len())
            .ok()
            .filter(|length| usize::from(*length) + 2 <= SEALED_PLAINTEXT_BYTES)
            .ok_or(SealError::Damaged("the data does not fit the sealed size"))?;
        let mut plaintext = Zeroizing::new([0u8; SEALED_PLAINTEXT_BYTES]);
        plaintext[..2].copy_from_slice(&length.to_be_bytes());
        plaintext[2..2 + encoded.len()].copy_from_slice(&encoded);
        let ciphertext = ChaCha20Poly1305::new(Key::from_slice(content_key.as_ref()))
            .encrypt(
                Nonce::from_slice(&ZERO_NONCE),
                Payload {
                    msg: plaintext.as_ref(),
                    aad: &content_aad(context, &ephemeral_public),
                },
            )
            .map_err(|_| SealError::Damaged("the details did not seal"))?;
        Ok(SealedDetails {
            ephemeral: ephemeral_public,
            commitment: commitment(content_key.as_ref(), context),
            recipients: wrapped,
            ciphertext,
        })
    }

    /// The sealing keys these details were sealed for, ascending.
    pub fn recipients(&self) -> impl Iterator<Item = SealingKey> + '_ {
        self.recipients.iter().map(|wrapped| wrapped.recipient)
    }

    /// Whether `key` is among the recipients.
    pub fn is_sealed_for(&self, key: &SealingKey) -> bool {
        self.recipients
            .binary_search_by(|wrapped| wrapped.recipient.cmp(key))
            .is_ok()
    }

    /// Opens the details with a recipient's secret, under the payment's
    /// context.
    pub fn open(
        &self,
        secret: &SealingSecret,
        context: &SealingContext,
    ) -> Result<PaymentData, SealError> {
        let ours = secret.public();
        let wrapped = self
            .recipients
            .iter()
            .find(|wrapped| wrapped.recipient == ours)
            .ok_or(SealError::NotARecipient(ours))?;
        let shared = secret
            .secret
            .diffie_hellman(&PublicKey::from(self.ephemeral));
        if !shared.was_contributory() {
            return Err(SealError::Damaged("a low-order ephemeral key"));
        }
        let wrap = Zeroizing::new(wrap_key(&self.ephemeral, &ours, shared.as_bytes()));
        let mut sealed_key = [0u8; 48];
        sealed_key[..32].copy_from_slice(&wrapped.key);
        sealed_key[32..].copy_from_slice(&wrapped.tag);
        let content_key = ChaCha20Poly1305::new(Key::from_slice(wrap.as_ref()))
            .decrypt(
                Nonce::from_slice(&ZERO_NONCE),
                Payload {
                    msg: &sealed_key,
                    aad: &context.0.0,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| SealError::Damaged("the wrapped key does not open"))?;
        if content_key.len() != 32 {
            return Err(SealError::Damaged("the wrapped key has the wrong size"));
        }
        if commitment(&content_key, context) != self.commitment {
            return Err(SealError::Damaged(
                "the content key is not the one committed to",
            ));
        }
        let plaintext = ChaCha20Poly1305::new(Key::from_slice(&content_key))
            .decrypt(
                Nonce::from_slice(&ZERO_NONCE),
                Payload {
                    msg: &self.ciphertext,
                    aad: &content_aad(context, &self.ephemeral),
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| SealError::Damaged("the ciphertext does not open"))?;
        let (length, rest) = plaintext
            .split_first_chunk::<2>()
            .ok_or(SealError::Damaged("the plaintext is too short"))?;
        let length = usize::from(u16::from_be_bytes(*length));
        let (encoded, padding) = rest
            .split_at_checked(length)
            .ok_or(SealError::Damaged("the plaintext's length is out of range"))?;
        if padding.iter().any(|byte| *byte != 0) {
            return Err(SealError::Damaged("the padding is not zero"));
        }
        codec::decode::<PaymentData, SEALED_PLAINTEXT_BYTES>(encoded)
            .map_err(|_| SealError::Damaged("the sealed data is not valid payment data"))
    }
}

fn split_wrapped(sealed: &[u8]) -> Result<([u8; 32], [u8; 16]), SealError> {
    let (key, key_tag) = sealed
        .split_first_chunk::<32>()
        .ok_or(SealError::Damaged("the wrapped key has the wrong size"))?;
    let key_tag: [u8; 16] = key_tag
        .try_into()
        .map_err(|_| SealError::Damaged("the wrapped key has the wrong size"))?;
    Ok((*key, key_tag))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payment::{EndToEndId, Remittance};

    fn data() -> PaymentData {
        PaymentData {
            end_to_end_id: EndToEndId::new("INV-2026-0042").unwrap(),
            remittance: Remittance::new("Invoice 42, thank you").unwrap(),
        }
    }

    fn context(amount: u128) -> SealingContext {
        SealingContext::new(
            &Hash([1; 32]),
            &AccountId([2; 32]),
            &AccountId([3; 32]),
            &AssetCode::new("CNY").unwrap(),
            Amount(amount),
        )
    }

    #[test]
    fn every_recipient_opens_and_nobody_else() {
        let a = SealingSecret::from_bytes([10; 32]);
        let b = SealingSecret::from_bytes([11; 32]);
        let r = SealingSecret::from_bytes([12; 32]);
        let c = SealingSecret::from_bytes([13; 32]);
        let sealed = SealedDetails::seal(
            &data(),
            &[b.public(), a.public(), r.public(), a.public()],
            &context(100),
            [7; 32],
        )
        .unwrap();
        assert_eq!(sealed.recipients().count(), 3);
        for secret in [&a, &b, &r] {
            assert!(sealed.is_sealed_for(&secret.public()));
            assert_eq!(sealed.open(secret, &context(100)).unwrap(), data());
        }
        assert_eq!(
            sealed.open(&c, &context(100)),
            Err(SealError::NotARecipient(c.public()))
        );
        // Under another payment's context (another amount), nothing opens.
        assert!(matches!(
            sealed.open(&a, &context(101)),
            Err(SealError::Damaged(_))
        ));
        // The same data sealed twice with fresh randomness differs.
        let again = SealedDetails::seal(&data(), &[a.public()], &context(100), [9; 32]).unwrap();
        assert_ne!(again.ciphertext, sealed.ciphertext);
    }

    #[test]
    fn every_sealed_payment_has_the_same_size() {
        let a = SealingSecret::from_bytes([10; 32]);
        let short = PaymentData {
            end_to_end_id: EndToEndId::new("X").unwrap(),
            remittance: Remittance::default(),
        };
        let long = PaymentData {
            end_to_end_id: EndToEndId::new(&"Y".repeat(35)).unwrap(),
            remittance: Remittance::new(&"é".repeat(70)).unwrap(),
        };
        let sizes: Vec<usize> = [short, long]
            .iter()
            .map(|data| {
                let sealed =
                    SealedDetails::seal(data, &[a.public()], &context(1), [7; 32]).unwrap();
                assert_eq!(&sealed.open(&a, &context(1)).unwrap(), data);
                codec::encode(&sealed).unwrap().len()
            })
            .collect();
        assert_eq!(sizes[0], sizes[1]);
    }

    #[test]
    fn tampering_anywhere_is_caught() {
        let a = SealingSecret::from_bytes([10; 32]);
        let sealed = SealedDetails::seal(&data(), &[a.public()], &context(5), [7; 32]).unwrap();
        let mut bad = sealed.clone();
        bad.ciphertext[3] ^= 1;
        assert!(matches!(
            bad.open(&a, &context(5)),
            Err(SealError::Damaged(_))
        ));
        let mut bad = sealed.clone();
        bad.recipients[0].key[0] ^= 1;
        assert!(matches!(
            bad.open(&a, &context(5)),
            Err(SealError::Damaged(_))
        ));
        let mut bad = sealed.clone();
        bad.ephemeral[0] ^= 1;
        assert!(bad.open(&a, &context(5)).is_err());
        // A content key other than the committed one (a second meaning
        // for one ciphertext) is refused.
        let mut bad = sealed.clone();
        bad.commitment[0] ^= 1;
        assert_eq!(
            bad.open(&a, &context(5)),
            Err(SealError::Damaged(
                "the content key is not the one committed to"
            ))
        );
    }

    #[test]
    fn non_canonical_keys_are_refused() {
        let a = SealingSecret::from_bytes([10; 32]).public();
        let mut top_bit = a;
        top_bit.0[31] |= 0x80;
        assert_eq!(top_bit.check(), Err(SealError::WeakKey(top_bit)));
        // p itself, and p + 1: the encodings of 0 and 1 written again.
        let mut p = [0xff; 32];
        p[0] = 0xed;
        p[31] = 0x7f;
        let mut p1 = p;
        p1[0] = 0xee;
        for key in [SealingKey(p), SealingKey(p1)] {
            assert_eq!(key.check(), Err(SealError::WeakKey(key)));
        }
        assert!(a.check().is_ok());
    }

    #[test]
    fn malformed_forms_never_decode_and_weak_keys_are_refused() {
        let a = SealingSecret::from_bytes([10; 32]);
        let b = SealingSecret::from_bytes([11; 32]);
        let sealed =
            SealedDetails::seal(&data(), &[a.public(), b.public()], &context(5), [7; 32]).unwrap();
        let bytes = codec::encode(&sealed).unwrap();
        assert_eq!(
            codec::decode::<SealedDetails, 4096>(&bytes).unwrap(),
            sealed
        );
        let mut unsorted = sealed.clone();
        unsorted.recipients.reverse();
        let mut short = sealed.clone();
        short.ciphertext.pop();
        let mut none = sealed;
        none.recipients.clear();
        for bad in [unsorted, short, none] {
            let bytes = codec::encode(&bad).unwrap();
            assert!(codec::decode::<SealedDetails, 4096>(&bytes).is_err());
        }
        // The identity and a point of order 8 are refused as keys.
        assert_eq!(
            SealingKey::from_hex(&"00".repeat(32)),
            Err(SealError::WeakKey(SealingKey([0; 32])))
        );
        let order_eight = "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800";
        assert!(matches!(
            SealingKey::from_hex(order_eight),
            Err(SealError::WeakKey(_))
        ));
        assert!(SealingKey::from_hex(&a.public().to_hex()).is_ok());
        assert_eq!(
            SealedDetails::seal(&data(), &[], &context(5), [7; 32]),
            Err(SealError::Recipients(0))
        );
    }
}
