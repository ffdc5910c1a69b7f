"""The LiteLLM CustomLogger that enforces Purser's decisions (README.md)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from typing import Any, Optional

from . import core
from .core import HookConfig

try:  # inside the proxy
    from litellm.integrations.custom_logger import CustomLogger
except ImportError:  # the unit tests run without LiteLLM
    class CustomLogger:  # type: ignore[no-redef]
        pass

try:
    from fastapi import HTTPException
except ImportError:
    class HTTPException(Exception):  # type: ignore[no-redef]
        def __init__(self, status_code: int, detail: Any = None, headers: Any = None):
            super().__init__(detail)
            self.status_code, self.detail, self.headers = status_code, detail, headers

META = "purser"  # the key under the request's metadata where the hook keeps its decision
EMBEDDINGS = ("embeddings", "aembedding", "embedding", "CallTypes.embeddings", "CallTypes.aembedding")


def log(event: str, **fields: Any) -> None:
    """One JSON line on standard error."""
    line = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "label": "purser_litellm", "event": event}
    line.update(fields)
    try:
        sys.stderr.write(json.dumps(line, default=str) + "\n")
        sys.stderr.flush()
    except Exception:
        pass


def load_config(path: Optional[str] = None) -> HookConfig:
    path = path or os.environ.get("PURSER_LITELLM_CONFIG")
    raw: dict = {}
    if path:
        import yaml
        with open(path, encoding="utf-8") as f:
            raw = yaml.safe_load(f) or {}
        raw = raw.get("purser", raw)
    cfg = HookConfig.from_mapping(raw)
    if cfg.token is None and cfg.token_file:
        with open(cfg.token_file, encoding="utf-8") as f:
            cfg.token = f.read().strip()
    if cfg.token is None and os.environ.get("PURSER_TOKEN"):
        cfg.token = os.environ["PURSER_TOKEN"]
    return cfg


class SidecarError(Exception):
    pass


class PurserHook(CustomLogger):
    """Authorize in async_pre_call_hook, settle on success, release on failure."""

    def __init__(self, config: Optional[HookConfig] = None):
        try:
            super().__init__()
        except TypeError:
            pass
        self._config = config
        self._session = None
        self._headers = None
        self.counts: dict = {}

    # --- plumbing -------------------------------------------------------------

    @property
    def config(self) -> HookConfig:
        if self._config is None:
            self._config = load_config()
        return self._config

    def count(self, name: str) -> int:
        self.counts[name] = self.counts.get(name, 0) + 1
        return self.counts[name]

    async def _post(self, path: str, body: dict, timeout_ms: float) -> dict:
        import aiohttp
        cfg = self.config
        if self._session is None or self._session.closed:
            self._headers = {"Content-Type": "application/json"}
            if cfg.token:
                self._headers["Authorization"] = f"Bearer {cfg.token}"
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=256, keepalive_timeout=30),
                json_serialize=lambda o: json.dumps(o, separators=(",", ":")))
        try:
            async with asyncio.timeout(timeout_ms / 1000.0) if hasattr(asyncio, "timeout") else _Timeout(timeout_ms):
                async with self._session.post(cfg.url.rstrip("/") + path, json=body, headers=self._headers) as r:
                    payload = await r.read()
                    if r.status == 404 and path == "/v1/settle":
                        return {"outcome": "no_reservation"}  # no budget counted the call
                    if r.status != 200:
                        raise SidecarError(f"{path} answered {r.status}: {payload[:300].decode('utf-8', 'replace')}")
                    return json.loads(payload)
        except SidecarError:
            raise
        except (asyncio.TimeoutError, TimeoutError):
            raise SidecarError(f"{path} timed out after {timeout_ms:g} ms")
        except Exception as e:  # connection refused, reset, bad JSON
            raise SidecarError(f"{path} failed: {type(e).__name__}: {e}")

    # --- before the call ------------------------------------------------------

    async def async_pre_call_hook(self, user_api_key_dict, cache, data: dict, call_type) -> Any:
        cfg = self.config
        for key in ("metadata", "litellm_metadata"):  # never trust a decision the caller sent
            if isinstance(data.get(key), dict):
                data[key].pop(META, None)
        # LiteLLM's newer routes (/v1/messages, /v1/responses, …) carry its metadata in
        # litellm_metadata (the proxy has added it by now), the older ones in metadata.
        mkey = "litellm_metadata" if isinstance(data.get("litellm_metadata"), dict) else "metadata"
        metadata = data.get(mkey)
        if not isinstance(metadata, dict):
            metadata = {}
            data[mkey] = metadata
        requested = data.get("model")
        if not isinstance(requested, str):
            return data
        who = core.identity(cfg, user_api_key_dict)
        model, deployment_region = core.deployment_region(cfg, requested)
        region = deployment_region or who.pop("region", None) or cfg.region
        who.pop("region", None)
        prompt = core.estimate_prompt_tokens(data, cfg.bytes_per_token)
        if str(call_type) in EMBEDDINGS:
            output, output_source = 0, "embedding"
        else:
            output, output_source = core.reserved_output_tokens(cfg, data, model, who["team"])
        request = {"model": model, "team": who["team"], "environment": who["environment"],
                   "usage": {"input_tokens": prompt, "output_tokens": output}}
        if who["user"]:
            request["user"] = who["user"]
        if who["tags"]:
            request["tags"] = who["tags"]
        if region:
            request["region"] = region
        if isinstance(data.get("litellm_call_id"), str):
            request["id"] = data["litellm_call_id"]
        try:
            decision = await self._post("/v1/authorize", request, cfg.timeout_ms)
        except SidecarError as e:
            return self._sidecar_down(data, requested, str(e))

        # A decision no budget counted reserved nothing: there is nothing to settle or release.
        state = {"id": decision.get("decision_id"), "decision": decision.get("decision"),
                 "reserved": bool(decision.get("budgets")), "shadow": cfg.shadow,
                 "usage": request["usage"], "model": requested}
        if decision.get("decision") != "allow":
            status, body = core.deny_error(decision)
            if cfg.shadow:
                n = self.count("shadow_would_deny")
                log("shadow: would deny", status=status, model=requested, team=who["team"], rule=body["rule"],
                    source=body["source"], message=body["message"], decision_id=body["decision_id"], shadow_would_deny=n)
                state["id"] = None  # nothing was reserved
                state["would"] = "deny"
                metadata[META] = state
                return data
            self.count(f"denied_{status}")
            log("denied", status=status, model=requested, team=who["team"], rule=body["rule"], source=body["source"],
                decision_id=body["decision_id"])
            raise HTTPException(status_code=status, detail=body)

        target = core.route(cfg, requested, decision)
        if cfg.shadow:
            if target != requested:
                n = self.count("shadow_would_reroute")
                log("shadow: would reroute", model=requested, to=target, region=decision.get("region"),
                    decision_id=state["id"], shadow_would_reroute=n)
                state["would"] = "reroute"
            self.count("allowed")
            metadata[META] = state
            return data
        if target is None:
            await self._release(state["id"])
            self.count("denied_403")
            body = {"message": f"purser: no deployment of {decision.get('model')} in region {decision.get('region')} "
                               "in the hook's deployments mapping", "type": "policy_denied",
                    "rule": "deployments", "source": None, "decision_id": state["id"]}
            log("denied", status=403, model=requested, reason=body["message"])
            raise HTTPException(status_code=403, detail=body)
        if target != requested:
            self.count("rerouted")
            log("rerouted", model=requested, to=target, region=decision.get("region"), decision_id=state["id"])
            data["model"] = target
            state["model"] = target
        self.count("allowed")
        if cfg.enforce_max_tokens and output_source != "request":
            data["max_tokens"] = output
        metadata[META] = state
        return data

    def _sidecar_down(self, data: dict, requested: str, reason: str) -> Any:
        cfg = self.config
        if cfg.fail_mode == "allow" or cfg.shadow:
            n = self.count("sidecar_error_allowed")
            log("purser unavailable: call allowed (fail_mode allow)", model=requested, reason=reason, count=n)
            mkey = "litellm_metadata" if isinstance(data.get("litellm_metadata"), dict) else "metadata"
            data[mkey][META] = {"id": None, "decision": "unavailable", "shadow": cfg.shadow}
            return data
        n = self.count("sidecar_error_denied")
        log("purser unavailable: call denied (fail_mode deny)", model=requested, reason=reason, count=n)
        raise HTTPException(status_code=503, detail={"message": f"purser: budget service unavailable ({reason})",
                                                     "type": "policy_unavailable", "rule": None, "source": None})

    # --- after the call -------------------------------------------------------

    @staticmethod
    def _state(kwargs_or_data: dict) -> Optional[dict]:
        for holder in (kwargs_or_data, kwargs_or_data.get("litellm_params") or {}):
            for key in ("metadata", "litellm_metadata"):
                meta = holder.get(key)
                if isinstance(meta, dict) and isinstance(meta.get(META), dict):
                    return meta[META]
        return None

    async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
        state = self._state(kwargs)
        if not state or not state.get("id") or not state.get("reserved") or state.get("closed"):
            return
        state["closed"] = True
        response = kwargs.get("complete_streaming_response") or response_obj
        usage = core.settle_usage(getattr(response, "usage", None) or (response.get("usage") if isinstance(response, dict) else None))
        body: dict = {"decision_id": state["id"]}
        if state.get("would") == "reroute" and self.config.settle_cost and kwargs.get("response_cost") is not None:
            body["cost"] = float(kwargs["response_cost"])
        else:
            body["usage"] = usage or state["usage"]
        try:
            answer = await self._post("/v1/settle", body, self.config.settle_timeout_ms)
            self.count("settled")
            log("settled", decision_id=state["id"], cost=answer.get("cost"), outcome=answer.get("outcome"),
                litellm_cost=kwargs.get("response_cost"), usage=body.get("usage"))
        except SidecarError as e:
            self.count("settle_errors")
            log("settle failed", decision_id=state["id"], reason=str(e))

    async def async_post_call_failure_hook(self, request_data, original_exception, user_api_key_dict, traceback_str=None):
        state = self._state(request_data or {})
        if state and state.get("id") and state.get("reserved") and not state.get("closed"):
            state["closed"] = True
            await self._release(state["id"])
        return None

    async def _release(self, decision_id: Optional[str]) -> None:
        if not decision_id:
            return
        try:
            await self._post("/v1/release", {"decision_id": decision_id}, self.config.settle_timeout_ms)
            self.count("released")
            log("released", decision_id=decision_id)
        except SidecarError as e:
            self.count("release_errors")
            log("release failed", decision_id=decision_id, reason=str(e))

    async def async_post_call_response_headers_hook(self, data, user_api_key_dict, response, request_headers=None,
                                                    litellm_call_info=None):
        state = self._state(data or {})
        if not state:
            return None
        headers = {"x-purser-decision": str(state.get("decision"))}
        if state.get("id"):
            headers["x-purser-decision-id"] = state["id"]
        if state.get("would"):
            headers["x-purser-shadow"] = "would-" + state["would"]
        return headers


class _Timeout:
    """asyncio.timeout for Python < 3.11."""

    def __init__(self, ms: float):
        self.ms = ms

    async def __aenter__(self):
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        self._handle = loop.call_later(self.ms / 1000.0, task.cancel)
        return self

    async def __aexit__(self, exc_type, exc, tb):
        self._handle.cancel()
        if exc_type is asyncio.CancelledError:
            raise asyncio.TimeoutError()
        return False


# The instance config.yaml names (litellm_settings.callbacks). With
# PURSER_LITELLM_CONFIG set, its file is read now, so that a bad configuration
# stops the proxy at start-up instead of failing its first call.
purser_hook = PurserHook(load_config() if os.environ.get("PURSER_LITELLM_CONFIG") else None)
