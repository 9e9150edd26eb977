"""A CRM's credentials at rest: encrypted with a key derived from INTROBOT_SECRET_KEY
(Fernet: AES-128-CBC with an HMAC-SHA256, from `cryptography`). The plain credentials exist
only in memory, while an adapter is built; they are never logged.

`cryptography` (some 7 MB resident) is imported when a box is made, so a process with no
INTROBOT_SECRET_KEY, which seals nothing, never loads it (docs/performance.md, "Memory")."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

_DERIVATION_LABEL = b"introbot crm credentials v1"


class UnreadableCredentials(Exception):
    """Stored under another INTROBOT_SECRET_KEY (or damaged): the admin connects again."""


class SecretBox:
    def __init__(self, secret_key: str) -> None:
        from cryptography.fernet import Fernet

        derived = hmac.new(secret_key.encode(), _DERIVATION_LABEL, hashlib.sha256).digest()
        self._fernet: Fernet = Fernet(base64.urlsafe_b64encode(derived))

    def seal(self, credentials: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(credentials).encode()).decode()

    def open(self, sealed: str) -> dict[str, Any]:
        from cryptography.fernet import InvalidToken  # loaded already, when the box was made

        try:
            opened: dict[str, Any] = json.loads(self._fernet.decrypt(sealed.encode()))
        except (InvalidToken, ValueError) as exc:
            raise UnreadableCredentials("the credentials cannot be read with this key") from exc
        return opened
