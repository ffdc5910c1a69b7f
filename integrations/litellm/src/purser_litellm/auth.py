"""A LiteLLM `custom_auth` function for proxies without a key database.

general_settings:
  custom_auth: purser_litellm.auth.custom_auth

The keys file (PURSER_LITELLM_KEYS) lists each key with the team, user and
metadata the hook reads (README.md):

keys:
  - sha256: 9f86d081…          # or  key: sk-…  (the key itself)
    team_id: payments
    user_id: svc-checkout
    metadata: {purser_environment: production, feature: checkout}
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Any, Optional

_KEYS: Optional[list] = None


def load_keys(path: Optional[str] = None) -> list:
    import yaml
    path = path or os.environ.get("PURSER_LITELLM_KEYS")
    if not path:
        raise RuntimeError("PURSER_LITELLM_KEYS is not set: custom_auth needs a keys file")
    with open(path, encoding="utf-8") as f:
        raw = yaml.safe_load(f) or {}
    entries = []
    for i, entry in enumerate(raw.get("keys") or []):
        if "sha256" in entry:
            digest = str(entry["sha256"]).lower()
        elif "key" in entry:
            digest = hashlib.sha256(str(entry["key"]).encode()).hexdigest()
        else:
            raise ValueError(f"{path}: keys[{i}] has neither key nor sha256")
        fields = {k: v for k, v in entry.items() if k not in ("key", "sha256")}
        entries.append((digest, fields))
    return entries


def lookup(api_key: str, entries: list) -> Optional[dict]:
    """The fields of the key, compared by SHA-256 in constant time against every entry."""
    digest = hashlib.sha256((api_key or "").encode()).hexdigest()
    found = None
    for known, fields in entries:
        if hmac.compare_digest(known, digest):
            found = fields
    return found


async def custom_auth(request: Any, api_key: str):
    from litellm.proxy._types import ProxyException, UserAPIKeyAuth
    global _KEYS
    if _KEYS is None:
        _KEYS = load_keys()
    if api_key and api_key.lower().startswith("bearer "):
        api_key = api_key[7:]
    fields = lookup(api_key, _KEYS)
    if fields is None:
        # A ProxyException, not a bare Exception: LiteLLM 1.108.7 answers a bare one 500
        # without its Prisma client installed.
        raise ProxyException(message="Authentication Error: invalid API key", type="auth_error",
                             param="api_key", code=401)
    return UserAPIKeyAuth(api_key=hashlib.sha256(api_key.encode()).hexdigest(), **fields)
