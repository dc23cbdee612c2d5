#!/usr/bin/env python3
"""Builds and signs the golden transfer of ledger/tests/it/vectors.rs from the
documented layout alone (ledger/src/lib.rs), with Python's `cryptography`.

    pip install cryptography && python3 docs/sign_transfer.py

Prints the signature and transaction id; both must equal the golden vectors.
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


key = Ed25519PrivateKey.from_private_bytes(bytes([7]) * 32)
sender = key.public_key().public_bytes(
    serialization.Encoding.Raw, serialization.PublicFormat.Raw
)
chain_id = bytes([0x11]) * 32
body = struct.pack(">I", 0) + bytes([0x22]) * 32 + asset("CNY") + u128(12_345)
envelope = chain_id + sender + u64(5) + u128(250) + u64(1_000) + body
signing_bytes = b"clearhouse/transaction/v1\x00" + envelope

signature = key.sign(signing_bytes)
print("signature", signature.hex())
print("id       ", hashlib.sha256(signing_bytes).hexdigest())
print("wire     ", (envelope + signature).hex())
