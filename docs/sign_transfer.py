#!/usr/bin/env python3
"""Builds and signs the golden transfer and payment of ledger/tests/it/vectors.rs
from the documented layout alone (ledger/src/lib.rs), with Python's
`cryptography`.

    pip install cryptography && python3 docs/sign_transfer.py

Prints each one's signature and transaction id; both must equal the golden
vectors.
"""
import hashlib
import struct

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


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

for name, body in (("transfer", transfer), ("payment", payment)):
    envelope = chain_id + sender + u64(5) + u128(250) + u64(1_000) + body
    signing_bytes = b"clearhouse/transaction/v1\x00" + envelope
    signature = key.sign(signing_bytes)
    print(name)
    print("  signature", signature.hex())
    print("  id       ", hashlib.sha256(signing_bytes).hexdigest())
    print("  wire     ", (envelope + signature).hex())
