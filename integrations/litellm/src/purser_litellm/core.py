"""The hook's pure parts: configuration, identity, token estimate, reservation
size, model and region mapping, and the mapping of a decision to an HTTP
error. Nothing here does I/O, so that it can be tested without a proxy."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional


class ConfigError(ValueError):
    """The hook's configuration is invalid."""


FAIL_MODES = ("deny", "allow")


@dataclass
class HookConfig:
    """What the operator configures (a YAML file, see the README)."""

    url: str = "http://127.0.0.1:8181"
    token: Optional[str] = None
    token_file: Optional[str] = None  # a file holding the token (or PURSER_TOKEN)
    settle_timeout_ms: float = 5000.0
    settle_cost: bool = False  # settle shadowed reroutes with LiteLLM's response_cost (needs the cost scope)
    timeout_ms: float = 250.0
    fail_mode: str = "deny"
    shadow: bool = False
    # Where identity comes from: the authenticated key's fields only.
    team_field: str = "team_id"  # or team_alias
    environment: Optional[str] = None  # the proxy's own environment, when keys do not say
    region: Optional[str] = None  # the region a request asks for when its deployment has none
    # Purser tag name -> key (or team) metadata field.
    tags: dict = field(default_factory=dict)
    # LiteLLM model_name -> Purser model name (default: the same name).
    models: dict = field(default_factory=dict)
    # Purser model -> {region: LiteLLM model_name serving it there}.
    deployments: dict = field(default_factory=dict)
    # Output tokens reserved when a call sends no max_tokens.
    default_output_tokens: int = 1024
    output_tokens_per_model: dict = field(default_factory=dict)
    output_tokens_per_team: dict = field(default_factory=dict)
    # Prompt bytes per token for the estimate: 1 is an upper bound for
    # byte-level BPE tokenizers; 4 is the usual average for English.
    bytes_per_token: float = 3.0
    # Set max_tokens on calls that send none, to the reserved output.
    enforce_max_tokens: bool = False

    @staticmethod
    def from_mapping(raw: Mapping[str, Any]) -> "HookConfig":
        known = set(HookConfig.__dataclass_fields__)
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ConfigError(f"unknown key(s) in the purser hook configuration: {', '.join(unknown)}")
        cfg = HookConfig(**dict(raw))
        cfg.validate()
        return cfg

    def validate(self) -> None:
        if self.fail_mode not in FAIL_MODES:
            raise ConfigError(f"fail_mode must be deny or allow, found {self.fail_mode!r}")
        if not (0 < float(self.timeout_ms) <= 60_000):
            raise ConfigError(f"timeout_ms must be in (0, 60000], found {self.timeout_ms!r}")
        if not (float(self.bytes_per_token) >= 1):
            raise ConfigError(f"bytes_per_token must be at least 1, found {self.bytes_per_token!r}")
        if self.team_field not in ("team_id", "team_alias"):
            raise ConfigError(f"team_field must be team_id or team_alias, found {self.team_field!r}")
        for name, value in [("default_output_tokens", self.default_output_tokens)] + \
                [(f"output_tokens_per_model.{k}", v) for k, v in self.output_tokens_per_model.items()] + \
                [(f"output_tokens_per_team.{k}", v) for k, v in self.output_tokens_per_team.items()]:
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"{name} must be a whole number of tokens, found {value!r}")
        for model, regions in self.deployments.items():
            if not isinstance(regions, dict):
                raise ConfigError(f"deployments.{model} must map regions to LiteLLM model names")


# --- identity -----------------------------------------------------------------

def _get(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def identity(cfg: HookConfig, auth: Any) -> dict:
    """team, environment, user and tags of the authenticated caller.

    `auth` is LiteLLM's UserAPIKeyAuth (from its key database or from a
    custom_auth function). Only the key's and team's own fields are read,
    never the request body: an end user cannot name another team, switch
    environment or retag a call."""
    key_meta = _get(auth, "metadata") or {}
    team_meta = _get(auth, "team_metadata") or {}

    def meta(name: str) -> Optional[str]:
        for source in (key_meta, team_meta):
            value = source.get(name) if isinstance(source, Mapping) else None
            if value is not None and value != "":
                return str(value)
        return None

    team = _get(auth, cfg.team_field) or _get(auth, "team_id")
    environment = meta("purser_environment") or cfg.environment
    user = meta("purser_user") or _get(auth, "user_id")
    tags = {}
    for tag, source in cfg.tags.items():
        value = meta(source)
        if value is not None:
            tags[tag] = value
    return {"team": str(team) if team is not None else None, "environment": environment,
            "user": str(user) if user is not None else None, "tags": tags,
            "region": meta("purser_region")}


# --- token estimate and reservation size ------------------------------------

PER_MESSAGE_TOKENS = 4  # role and separators, as OpenAI documents for chat formats
PER_CALL_TOKENS = 3


def _text_bytes(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, str):
        return len(value.encode("utf-8"))
    if isinstance(value, (int, float, bool)):
        return len(str(value))
    if isinstance(value, Mapping):
        # Content parts: {"type": "text", "text": "..."}; images are not text.
        if value.get("type") in ("image_url", "input_image", "image"):
            return 0
        return sum(_text_bytes(v) for k, v in value.items() if k not in ("type", "cache_control"))
    if isinstance(value, (list, tuple)):
        return sum(_text_bytes(v) for v in value)
    return len(str(value).encode("utf-8"))


def estimate_prompt_tokens(data: Mapping[str, Any], bytes_per_token: float = 3.0) -> int:
    """A conservative estimate of a call's prompt tokens, without a tokenizer:
    UTF-8 bytes of its text (messages, prompt, input, tools) over
    `bytes_per_token`, rounded up, plus 4 per message and 3 per call."""
    messages = data.get("messages")
    text = 0
    count = 0
    if isinstance(messages, list):
        count = len(messages)
        text += _text_bytes(messages)
    for key in ("prompt", "input", "system"):
        if key in data:
            text += _text_bytes(data.get(key))
            count += 1
    for key in ("tools", "functions"):
        if data.get(key):
            text += len(json.dumps(data.get(key), separators=(",", ":")).encode("utf-8"))
    return math.ceil(text / float(bytes_per_token)) + PER_MESSAGE_TOKENS * count + PER_CALL_TOKENS


def requested_output_tokens(data: Mapping[str, Any]) -> Optional[int]:
    """The output cap the call itself sends (max_tokens, max_completion_tokens or max_output_tokens)."""
    for key in ("max_completion_tokens", "max_tokens", "max_output_tokens"):
        value = data.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            n = value
            choices = data.get("n")
            if isinstance(choices, int) and not isinstance(choices, bool) and choices > 1:
                n *= choices
            return n
    return None


def reserved_output_tokens(cfg: HookConfig, data: Mapping[str, Any], model: str, team: Optional[str]) -> tuple:
    """(tokens, source): the call's own cap when it sends one, else the team's
    default, else the model's, else the global default."""
    asked = requested_output_tokens(data)
    if asked is not None:
        return asked, "request"
    if team is not None and team in cfg.output_tokens_per_team:
        return cfg.output_tokens_per_team[team], "team"
    if model in cfg.output_tokens_per_model:
        return cfg.output_tokens_per_model[model], "model"
    return cfg.default_output_tokens, "default"


# --- models and regions -------------------------------------------------------

def purser_model(cfg: HookConfig, litellm_model: str) -> str:
    return cfg.models.get(litellm_model, litellm_model)


def deployment_region(cfg: HookConfig, litellm_model: str) -> tuple:
    """(Purser model, region) a LiteLLM model_name stands for, from `deployments`."""
    for model, regions in cfg.deployments.items():
        for region, name in regions.items():
            if name == litellm_model:
                return model, region
    return purser_model(cfg, litellm_model), None


def route(cfg: HookConfig, requested: str, decision: Mapping[str, Any]) -> Optional[str]:
    """The LiteLLM model_name to call for an allowed decision (Purser's model
    and region); None when Purser chose a region that `deployments` gives the
    model no deployment in (the call is then refused rather than sent to a
    region the policy did not choose)."""
    asked_model, asked_region = deployment_region(cfg, requested)
    model = decision.get("model") or asked_model
    region = decision.get("region")
    if model == asked_model and (region is None or region == asked_region):
        return requested
    regions = cfg.deployments.get(model)
    if not regions and model == asked_model:
        return requested
    if regions:
        if region is None:
            return requested if model == asked_model else next(iter(regions.values()))
        return regions.get(region)
    reverse = [name for name, target in cfg.models.items() if target == model]
    return reverse[0] if reverse else model


# --- decisions to HTTP errors ---------------------------------------------------

STATUS_BY_KIND = {"budget": 429, "system": 503}


def deny_error(decision: Mapping[str, Any]) -> tuple:
    """(status, body) for a denied decision: 429 for a budget, 503 when the
    ledger could not answer, 403 for access and every other kind."""
    violations = [v for v in decision.get("violations") or [] if v.get("effect") == "deny"]
    first = violations[0] if violations else {}
    kinds = {v.get("kind") for v in violations}
    status = 429 if "budget" in kinds else STATUS_BY_KIND.get(first.get("kind"), 403)
    # The budget violation names the rule to show when a budget is among them.
    if status == 429:
        first = next(v for v in violations if v.get("kind") == "budget")
    message = first.get("message") or "denied by policy"
    where = ", ".join(x for x in (first.get("rule"), first.get("source")) if x)
    body = {
        "message": f"purser: {message}" + (f" ({where})" if where else ""),
        "type": "budget_exceeded" if status == 429 else ("policy_unavailable" if status == 503 else "policy_denied"),
        "rule": first.get("rule"),
        "source": first.get("source"),
        "decision_id": decision.get("decision_id"),
        "violations": [{k: v.get(k) for k in ("rule", "kind", "message", "source")} for v in violations],
    }
    return status, body


def settle_usage(usage: Any) -> Optional[dict]:
    """Purser's usage from a LiteLLM (OpenAI-style) usage: prompt tokens
    include cached ones, so cache reads and writes are subtracted."""
    if usage is None:
        return None
    if _get(usage, "prompt_tokens") is None and _get(usage, "input_tokens") is not None:
        # A native shape: Anthropic's input_tokens exclude the cache reads and writes
        # it reports beside them; OpenAI Responses' include input_tokens_details.cached_tokens.
        fresh = int(_get(usage, "input_tokens") or 0)
        read = int(_get(usage, "cache_read_input_tokens") or 0)
        written = int(_get(usage, "cache_creation_input_tokens") or 0)
        details = _get(usage, "input_tokens_details")
        cached = int(_get(details, "cached_tokens") or 0) if details is not None else 0
        if cached and not read:
            fresh, read = max(fresh - cached, 0), cached
        return {"input_tokens": fresh, "cached_input_tokens": read, "cache_write_tokens": written,
                "output_tokens": int(_get(usage, "output_tokens") or 0)}
    prompt = int(_get(usage, "prompt_tokens") or 0)
    completion = int(_get(usage, "completion_tokens") or 0)
    details = _get(usage, "prompt_tokens_details")
    cached = int(_get(details, "cached_tokens") or 0) if details is not None else 0
    if not cached:
        cached = int(_get(usage, "cache_read_input_tokens") or 0)
    written = int(_get(usage, "cache_creation_input_tokens") or 0)
    return {"input_tokens": max(prompt - cached - written, 0), "cached_input_tokens": cached,
            "cache_write_tokens": written, "output_tokens": completion}
