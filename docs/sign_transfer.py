#!/usr/bin/env python3
"""A Clearhouse client in Python, from the documented layout alone
(ledger/src/lib.rs, and ledger/src/sealed.rs for sealing), with Python's
`cryptography`. Two modes:

    pip install cryptography && python3 docs/sign_transfer.py

builds and signs the golden transfer, payment, sealed payment, swap and
cross transfer of ledger/tests/it/vectors.rs and prints each one's signature
and transaction id (for the swap also the counterparty's consent signature,
printed before the sender's); all must equal the golden vectors.

    python3 docs/sign_transfer.py sign CHAIN_ID SENDER_SEED COUNTER_SEED TO QUOTE EXPIRY

signs three transactions for a live network (tests/it/python_signer.rs
submits them to a testnet whose bank 0 issues CNY and bank 1 USD) and
prints one line each, `<kind> <hex of the wire bytes>`:

    transfer        nonce 0: 100.00 CNY (10,000 minor units) to TO
    swap            nonce 1: the sender gives 500.00 CNY (50,000) to the
                    counterparty for 70.00 USD (7,000), the counterparty
                    accepting a fee of at most 10,000.00 USD (1,000,000)
    cross_transfer  nonce 2: 1,000.00 CNY (100,000) to TO, converted at
                    QUOTE, end-to-end id "PY-2026-0001", remittance
                    "paid from python"

CHAIN_ID, TO and QUOTE are 32 bytes in hex (TO an account, i.e. an ed25519
public key; QUOTE a quote's id, the id of its quote post); SENDER_SEED and
COUNTER_SEED are 32-byte ed25519 seeds in hex (the counterparty's key is the
one of COUNTER_SEED, which signs the swap's consent); EXPIRY is the expiry
height, a decimal integer. Every envelope offers a fee of at most 1,000,000
minor units.
"""
import hashlib
import struct
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import (
    X25519PrivateKey,
    X25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

TRANSACTION_TAG = b"clearhouse/transaction/v1\x00"
SWAP_CONSENT_TAG = b"clearhouse/swap-consent/v1\x00"


def u32(value):
    return struct.pack(">I", value)


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


def envelope(chain_id, sender, nonce, fee, expiry, body):
    """The signed envelope without its tag: chain id, sender, nonce, fee,
    expiry height, then the body (its u32 variant first)."""
    return chain_id + sender + u64(nonce) + u128(fee) + u64(expiry) + body


def transfer_body(to, code, amount):
    """A transfer (body 0): to, asset, amount."""
    return u32(0) + to + asset(code) + u128(amount)


def clear_details(end_to_end_id, remittance):
    """A payment's details in the clear (variant 0): the end-to-end id, the
    remittance information."""
    return u32(0) + text(end_to_end_id) + text(remittance)


def swap_fields(counterparty, give, give_amount, take, take_amount, counter_fee):
    """A swap (body 13) up to, not including, its counter signature."""
    return (
        u32(13)
        + counterparty
        + asset(give)
        + u128(give_amount)
        + asset(take)
        + u128(take_amount)
        + u128(counter_fee)
    )


def consent(counter_key, envelope_of):
    """The counterparty's consent to a swap: an ed25519 signature over the
    consent tag and the envelope with the counter signature's 64 bytes zero
    (the signing bytes with the tag replaced and the counter signature
    zeroed). `envelope_of` makes the envelope of a body."""
    return counter_key.sign(SWAP_CONSENT_TAG + envelope_of(bytes(64)))


def cross_transfer_body(to, code, amount, quote, details):
    """A cross transfer (body 16): a payment's to, asset and amount, then the
    quote it converts at (the quote's id), then the payment's details."""
    return u32(16) + to + asset(code) + u128(amount) + quote + details


def signed(key, envelope_bytes):
    """The signature over the signing bytes (tag, then envelope), the id
    (SHA-256 of the signing bytes) and the wire bytes (envelope, then
    signature)."""
    signing_bytes = TRANSACTION_TAG + envelope_bytes
    signature = key.sign(signing_bytes)
    return signature, hashlib.sha256(signing_bytes).hexdigest(), envelope_bytes + signature


def golden():
    key = Ed25519PrivateKey.from_private_bytes(bytes([7]) * 32)
    sender = raw(key.public_key())
    chain_id = bytes([0x11]) * 32
    to = bytes([0x22]) * 32

    def golden_envelope(body):
        """Nonce 5, fee 250, expiry height 1,000."""
        return envelope(chain_id, sender, 5, 250, 1_000, body)

    transfer = transfer_body(to, "CNY", 12_345)
    # A payment (body 12): a transfer's fields, then its details: variant 0
    # (in the clear), the end-to-end id, the remittance information.
    payment = (
        u32(12)
        + to
        + asset("CNY")
        + u128(12_345)
        + clear_details("INV-2026-118", "invoice 118, May")
    )

    # The same payment sealed (details variant 1) for two recipients, from a
    # fixed seed where a client draws 32 fresh random bytes for every payment.
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
    sealed_payment = u32(12) + to + asset("CNY") + u128(12_345) + u32(1) + details
    print("sealed details")
    print("  ephemeral", details[:32].hex())
    print("  sha256   ", hashlib.sha256(u32(1) + details).hexdigest())

    # A swap (body 13): the sender gives 12,345 CNY to the counterparty (the
    # key of seed 0x08...) for 1,500 EUR, the counterparty accepting a fee of
    # at most 30 (in EUR, the asset it gives). Its last field is the
    # counterparty's consent. The sender then signs the whole, consent in.
    counter_key = Ed25519PrivateKey.from_private_bytes(bytes([8]) * 32)
    fields = swap_fields(raw(counter_key.public_key()), "CNY", 12_345, "EUR", 1_500, 30)
    counter_signature = consent(counter_key, lambda tail: golden_envelope(fields + tail))
    swap = fields + counter_signature

    # A cross transfer (body 16) at the quote 0x44..., its details in the
    # clear, exactly as the payment's.
    cross_transfer = cross_transfer_body(
        to,
        "CNY",
        12_345,
        bytes([0x44]) * 32,
        clear_details("INV-2026-118", "invoice 118, May"),
    )

    for name, body in (
        ("transfer", transfer),
        ("payment", payment),
        ("sealed payment", sealed_payment),
        ("swap", swap),
        ("cross_transfer", cross_transfer),
    ):
        signature, tx_id, wire = signed(key, golden_envelope(body))
        print(name)
        if body is swap:
            print("  counter_signature", counter_signature.hex())
        print("  signature", signature.hex())
        print("  id       ", tx_id)
        print("  wire     ", wire.hex())


def hex32(name, value):
    data = bytes.fromhex(value)
    if len(data) != 32:
        raise SystemExit(f"{name}: expected 32 bytes of hex, got {len(data)}")
    return data


def sign(args):
    """The `sign` mode: see the module's docstring."""
    if len(args) != 6:
        raise SystemExit(__doc__)
    chain_id = hex32("CHAIN_ID", args[0])
    key = Ed25519PrivateKey.from_private_bytes(hex32("SENDER_SEED", args[1]))
    counter_key = Ed25519PrivateKey.from_private_bytes(hex32("COUNTER_SEED", args[2]))
    to = hex32("TO", args[3])
    quote = hex32("QUOTE", args[4])
    expiry = int(args[5])
    sender = raw(key.public_key())
    fee = 1_000_000

    def at(nonce):
        return lambda body: envelope(chain_id, sender, nonce, fee, expiry, body)

    transfer = transfer_body(to, "CNY", 10_000)
    fields = swap_fields(raw(counter_key.public_key()), "CNY", 50_000, "USD", 7_000, fee)
    swap = fields + consent(counter_key, lambda tail: at(1)(fields + tail))
    cross_transfer = cross_transfer_body(
        to, "CNY", 100_000, quote, clear_details("PY-2026-0001", "paid from python")
    )
    for nonce, (kind, body) in enumerate(
        (("transfer", transfer), ("swap", swap), ("cross_transfer", cross_transfer))
    ):
        _, _, wire = signed(key, at(nonce)(body))
        print(kind, wire.hex())


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "sign":
        sign(sys.argv[2:])
    elif len(sys.argv) > 1:
        raise SystemExit(__doc__)
    else:
        golden()
