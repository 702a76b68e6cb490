"""Secrets at rest: connection secrets are encrypted with a key that never enters the catalog.

The key comes from `ACCORD_SECRET_KEY` (a Fernet key), else from `home/secret.key`, which
`accord init` creates with owner-only permissions."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from accord.settings import SECRET_KEY_FILE
from accord.sources.exceptions import SecretKeyError

KEY_FILE = SECRET_KEY_FILE


def ensure_key_file(home: Path) -> Path:
    """Create the key file if there is none; an existing key is never replaced."""
    from cryptography.fernet import Fernet

    path = home / KEY_FILE
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(Fernet.generate_key())
    return path


class SecretBox:
    """Encrypts and decrypts a connection's secret fields as one JSON document."""

    def __init__(self, home: Path, key: str | None = None) -> None:
        from cryptography.fernet import Fernet

        raw = key or os.environ.get("ACCORD_SECRET_KEY")
        if raw is None:
            path = home / KEY_FILE
            if not path.exists():
                raise SecretKeyError(
                    f"no secret key: set ACCORD_SECRET_KEY or run `accord init` to create {path}", path=str(path)
                )
            raw = path.read_text().strip()
        try:
            self._fernet = Fernet(raw.encode() if isinstance(raw, str) else raw)
        except ValueError:
            raise SecretKeyError("the secret key is not a valid Fernet key (32 url-safe base64 bytes)") from None
        self._raw = raw.encode() if isinstance(raw, str) else raw

    def key_bytes(self) -> bytes:
        """The key itself, for deriving other keys from it (with HMAC); never to be stored or shown."""
        return self._raw

    def seal(self, secrets: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(secrets).encode()).decode() if secrets else ""

    def open(self, sealed: str) -> dict[str, Any]:
        from cryptography.fernet import InvalidToken

        if not sealed:
            return {}
        try:
            return dict(json.loads(self._fernet.decrypt(sealed.encode())))
        except InvalidToken:
            raise SecretKeyError(
                "cannot decrypt a connection's secrets: the secret key is not the one they were stored with"
            ) from None
