"""Third parties' emails, kept only as a keyed hash.

An email in a contact serves one purpose: to recognise the same person when its owner adds or
imports them again. An HMAC does that as well as the address, and a copy of the database (a
backup, a replica, a leaked dump) no longer lists the people a team knows. The key is a secret
from settings; without it the hashes cannot be recomputed from a list of guessed addresses.
"""

from __future__ import annotations

import hashlib
import hmac

HASH_PREFIX = "email:"  # a contact's identity key when an email was given
_DERIVATION_LABEL = b"introbot contact email v1"


def derive_hash_key(secret: str) -> bytes:
    """A key of its own, derived from an app secret, so the secret itself is never the key."""
    return hmac.new(secret.encode(), _DERIVATION_LABEL, hashlib.sha256).digest()


def email_fingerprint(key: bytes, email: str) -> str:
    """The keyed hash of an email (case and surrounding spaces ignored): 64 hex characters."""
    return hmac.new(key, email.strip().lower().encode(), hashlib.sha256).hexdigest()
