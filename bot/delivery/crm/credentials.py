"""A CRM's credentials at rest: encrypted with a key derived from INTROBOT_SECRET_KEY
(Fernet: AES-128-CBC with an HMAC-SHA256, from `cryptography`). The plain credentials exist
only in memory, while an adapter is built; they are never logged."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

_DERIVATION_LABEL = b"introbot crm credentials v1"


class UnreadableCredentials(Exception):
    """Stored under another INTROBOT_SECRET_KEY (or damaged): the admin connects again."""


class SecretBox:
    def __init__(self, secret_key: str) -> None:
        derived = hmac.new(secret_key.encode(), _DERIVATION_LABEL, hashlib.sha256).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def seal(self, credentials: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(credentials).encode()).decode()

    def open(self, sealed: str) -> dict[str, Any]:
        try:
            opened: dict[str, Any] = json.loads(self._fernet.decrypt(sealed.encode()))
        except (InvalidToken, ValueError) as exc:
            raise UnreadableCredentials("the credentials cannot be read with this key") from exc
        return opened
