"""Personal-data encryption (SM4-GCM), keyed blind indexes and digests (SM3), passwords.

Keys are derived from the one master secret with HKDF, each for one purpose, so the
JWT key never doubles as the data key.
"""

from __future__ import annotations

import hashlib
import hmac as std_hmac
import os
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as c_hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION = 1
_NONCE = 12
_TAG = 16


def derive_key(master: bytes, purpose: str, length: int = 32) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=length, salt=b"linli/v1", info=purpose.encode()
    ).derive(master)


def sm3_hex(data: bytes | str) -> str:
    h = hashes.Hash(hashes.SM3())
    h.update(data.encode() if isinstance(data, str) else data)
    return h.finalize().hex()


class DataCipher:
    """SM4-GCM for personal data at rest: version byte, nonce, ciphertext, tag."""

    def __init__(self, key: bytes, index_key: bytes) -> None:
        if len(key) != 16:
            raise ValueError("SM4 keys are 128 bits")
        self._key = key
        self._index_key = index_key

    @classmethod
    def from_master(cls, master: bytes) -> DataCipher:
        return cls(derive_key(master, "sm4-data", 16), derive_key(master, "sm3-blind-index"))

    def encrypt(self, plaintext: str) -> bytes:
        nonce = os.urandom(_NONCE)
        enc = Cipher(algorithms.SM4(self._key), modes.GCM(nonce)).encryptor()
        body = enc.update(plaintext.encode()) + enc.finalize()
        return bytes([_VERSION]) + nonce + body + enc.tag

    def decrypt(self, blob: bytes) -> str:
        if not blob or blob[0] != _VERSION or len(blob) < 1 + _NONCE + _TAG:
            raise ValueError("unknown ciphertext format")
        nonce, body, tag = blob[1 : 1 + _NONCE], blob[1 + _NONCE : -_TAG], blob[-_TAG:]
        dec = Cipher(algorithms.SM4(self._key), modes.GCM(nonce, tag)).decryptor()
        try:
            return (dec.update(body) + dec.finalize()).decode()
        except InvalidTag as exc:
            raise ValueError("ciphertext failed authentication") from exc

    def blind_index(self, normalized: str) -> str:
        """Keyed SM3 (HMAC) so equal values can be found without storing them."""
        mac = c_hmac.HMAC(self._index_key, hashes.SM3())
        mac.update(normalized.encode())
        return mac.finalize().hex()


def normalize_phone(phone: str) -> str:
    digits = "".join(ch for ch in phone if ch.isdigit() or ch == "+")
    if digits.startswith("+86"):
        digits = digits[3:]
    return digits


def normalize_email(email: str) -> str:
    return email.strip().lower()


def mask_phone(phone: str) -> str:
    if len(phone) >= 7:
        return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]
    return "*" * len(phone)


# argon2id with the library's RFC 9106 low-memory profile defaults.
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# A valid hash of a random password: verifying against it when the login is unknown
# costs the same time as a real check, so response time does not reveal accounts.
DUMMY_PASSWORD_HASH = _hasher.hash(secrets.token_urlsafe(16))


def new_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def token_digest(token: str) -> str:
    """Digest for stored bearer secrets (refresh tokens, invite codes)."""
    return hashlib.sha256(token.encode()).hexdigest()


def constant_time_equals(a: str, b: str) -> bool:
    return std_hmac.compare_digest(a.encode(), b.encode())
