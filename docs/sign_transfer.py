#!/usr/bin/env python3
"""Builds and signs the golden transfer, payment, sealed payment, swap and
cross transfer of ledger/tests/it/vectors.rs from the documented layout alone
(ledger/src/lib.rs, and ledger/src/sealed.rs for sealing), with Python's
`cryptography`.

    pip install cryptography && python3 docs/sign_transfer.py

Prints each one's signature and transaction id (for the swap also the
counterparty's consent signature, printed before the sender's); all must
equal the golden vectors.
"""
import hashlib
import struct

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import (
    X25519PrivateKey,
    X25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def u64(value):
    return struct.pack(">Q", value)


def u128(value):
    return value.to_bytes(16, "big")


def asset(code):
    return u64(len(code)) + code.encode("ascii")


def text(value):
    """A string: its UTF-8 length as a u64, then its bytes."""
    data = value.encode("utf-8")
    return u64(len(data)) + data


key = Ed25519PrivateKey.from_private_bytes(bytes([7]) * 32)
sender = key.public_key().public_bytes(
    serialization.Encoding.Raw, serialization.PublicFormat.Raw
)
chain_id = bytes([0x11]) * 32
transfer = struct.pack(">I", 0) + bytes([0x22]) * 32 + asset("CNY") + u128(12_345)
# A payment (body 12): a transfer's fields, then its details: variant 0
# (in the clear), the end-to-end id, the remittance information.
payment = (
    struct.pack(">I", 12)
    + bytes([0x22]) * 32
    + asset("CNY")
    + u128(12_345)
    + struct.pack(">I", 0)
    + text("INV-2026-118")
    + text("invoice 118, May")
)


def raw(public_key):
    return public_key.public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


def hkdf(salt, ikm, info):
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(ikm)


def seal(data, recipients, context, seed):
    """PaymentDetails::Sealed's fields (ledger/src/sealed.rs)."""
    salt = b"clearhouse/sealed-seed/v1\x00"
    ephemeral = X25519PrivateKey.from_private_bytes(hkdf(salt, seed, b"ephemeral" + context))
    content_key = hkdf(salt, seed, b"content" + context)
    e_pub = raw(ephemeral.public_key())
    commitment = hashlib.sha256(
        b"clearhouse/sealed-commit/v1\x00" + content_key + context
    ).digest()
    out = e_pub + commitment + u64(len(recipients))
    for recipient in sorted(recipients):
        shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(recipient))
        wrap = hkdf(e_pub + recipient, shared, b"clearhouse/sealed-wrap/v1\x00")
        # 32 bytes of wrapped key, then its 16-byte tag.
        out += recipient + ChaCha20Poly1305(wrap).encrypt(bytes(12), content_key, context)
    plaintext = struct.pack(">H", len(data)) + data
    plaintext += bytes(200 - len(plaintext))
    ciphertext = ChaCha20Poly1305(content_key).encrypt(
        bytes(12), plaintext, context + e_pub
    )
    return out + u64(len(ciphertext)) + ciphertext


# The same payment sealed (details variant 1) for two recipients, from a fixed
# seed where a client draws 32 fresh random bytes for every payment.
to = bytes([0x22]) * 32
context = hashlib.sha256(
    b"clearhouse/sealed-context/v1\x00"
    + chain_id
    + sender
    + to
    + bytes([3])
    + b"CNY"
    + u128(12_345)
).digest()
recipients = [
    raw(X25519PrivateKey.from_private_bytes(bytes([b]) * 32).public_key())
    for b in (0x51, 0x52)
]
data = text("INV-2026-118") + text("invoice 118, May")
details = seal(data, recipients, context, bytes([0x31]) * 32)
sealed_payment = (
    struct.pack(">I", 12)
    + to
    + asset("CNY")
    + u128(12_345)
    + struct.pack(">I", 1)
    + details
)
print("sealed details")
print("  ephemeral", details[:32].hex())
print("  sha256   ", hashlib.sha256(struct.pack(">I", 1) + details).hexdigest())


def envelope(body):
    """The signed envelope without its tag: chain id, sender, nonce 5, fee
    250, expiry height 1,000, then the body (its u32 variant first)."""
    return chain_id + sender + u64(5) + u128(250) + u64(1_000) + body


# A swap (body 13): the sender gives 12,345 CNY to the counterparty (the key
# of seed 0x08...) for 1,500 EUR, the counterparty accepting a fee of at most
# 30 (in EUR, the asset it gives). Its last field is the counterparty's
# consent: an ed25519 signature over the consent tag and the envelope with
# those 64 bytes zero (the signing bytes with the tag replaced and the
# counter signature zeroed). The sender then signs the whole, consent in.
counter_key = Ed25519PrivateKey.from_private_bytes(bytes([8]) * 32)
swap_fields = (
    struct.pack(">I", 13)
    + raw(counter_key.public_key())  # counterparty
    + asset("CNY")  # give asset
    + u128(12_345)  # give amount
    + asset("EUR")  # take asset
    + u128(1_500)  # take amount
    + u128(30)  # counter fee
)
consent_bytes = b"clearhouse/swap-consent/v1\x00" + envelope(swap_fields + bytes(64))
counter_signature = counter_key.sign(consent_bytes)
swap = swap_fields + counter_signature

# A cross transfer (body 16): the payment's to, asset and amount, then the
# quote it converts at (the quote's id, 0x44...), then the payment's details
# in the clear, exactly as the payment's.
cross_transfer = (
    struct.pack(">I", 16)
    + to
    + asset("CNY")
    + u128(12_345)
    + bytes([0x44]) * 32
    + struct.pack(">I", 0)
    + text("INV-2026-118")
    + text("invoice 118, May")
)

for name, body in (
    ("transfer", transfer),
    ("payment", payment),
    ("sealed payment", sealed_payment),
    ("swap", swap),
    ("cross_transfer", cross_transfer),
):
    signing_bytes = b"clearhouse/transaction/v1\x00" + envelope(body)
    signature = key.sign(signing_bytes)
    print(name)
    if body is swap:
        print("  counter_signature", counter_signature.hex())
    print("  signature", signature.hex())
    print("  id       ", hashlib.sha256(signing_bytes).hexdigest())
    print("  wire     ", (envelope(body) + signature).hex())
