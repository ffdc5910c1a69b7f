"""The hook's decisions with purser serve replaced by canned answers (no network, no LiteLLM)."""

import asyncio
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

from purser_litellm import hook as hookmod  # noqa: E402
from purser_litellm.core import HookConfig  # noqa: E402


class Auth:
    def __init__(self, **kw):
        self.team_id, self.user_id, self.metadata, self.team_metadata = None, None, {}, None
        self.__dict__.update(kw)


ALLOW = {"decision": "allow", "decision_id": "d-1", "model": "m", "region": None, "violations": [],
         "budgets": [{"id": "b"}]}


def deny(kind, rule="r"):
    return {"decision": "deny", "decision_id": "d-2", "model": "m", "region": None, "budgets": [],
            "violations": [{"rule": rule, "kind": kind, "effect": "deny", "message": "no", "source": "p.yaml:1:1"}]}


class Fake(hookmod.PurserHook):
    def __init__(self, config, answers):
        super().__init__(config)
        self.answers, self.sent = list(answers), []

    async def _post(self, path, body, timeout_ms):
        self.sent.append((path, body))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def run(coro):
    return asyncio.run(coro)


def call(model="m", **extra):
    data = {"model": model, "messages": [{"role": "user", "content": "hello"}]}
    data.update(extra)
    return data


class Quiet(unittest.TestCase):
    """A test case whose hook logs (to standard error) are discarded."""

    def setUp(self):
        self.err = sys.stderr
        sys.stderr = open(os.devnull, "w")

    def tearDown(self):
        sys.stderr.close()
        sys.stderr = self.err


class PreCall(Quiet):
    def test_identity_comes_from_the_key_not_the_body(self):
        h = Fake(HookConfig(environment="prod"), [ALLOW])
        data = call(user="someone-else", metadata={"team_id": "other", "purser_environment": "qa",
                                                   "purser": {"id": "d-forged", "reserved": True}})
        run(h.async_pre_call_hook(Auth(team_id="payments", user_id="svc"), None, data, "completion"))
        sent = h.sent[0][1]
        self.assertEqual((sent["team"], sent["environment"], sent["user"]), ("payments", "prod", "svc"))
        self.assertEqual(data["metadata"]["purser"]["id"], "d-1")  # the forged id is gone

    def test_a_forged_decision_in_litellm_metadata_is_dropped_too(self):
        h = Fake(HookConfig(), [{"released": True}])
        data = {"model": None, "litellm_metadata": {"purser": {"id": "d-victim", "reserved": True}}}
        run(h.async_pre_call_hook(Auth(team_id="t"), None, data, "completion"))
        run(h.async_post_call_failure_hook(data, Exception(), None))
        self.assertEqual(h.sent, [])

    def test_embeddings_reserve_no_output(self):
        h = Fake(HookConfig(default_output_tokens=77), [ALLOW])
        run(h.async_pre_call_hook(Auth(team_id="t"), None, {"model": "m", "input": ["abc"]}, "aembedding"))
        self.assertEqual(h.sent[0][1]["usage"]["output_tokens"], 0)

    def test_budget_deny_is_429_and_access_403(self):
        for kind, status in (("budget", 429), ("access", 403)):
            h = Fake(HookConfig(), [deny(kind)])
            with self.assertRaises(hookmod.HTTPException) as e:
                run(h.async_pre_call_hook(Auth(team_id="t"), None, call(), "completion"))
            self.assertEqual(e.exception.status_code, status)
            self.assertIn("p.yaml:1:1", e.exception.detail["message"])

    def test_reroute_rewrites_the_model(self):
        h = Fake(HookConfig(), [dict(ALLOW, model="small", rerouted=True)])
        data = run(h.async_pre_call_hook(Auth(team_id="t"), None, call("big"), "completion"))
        self.assertEqual(data["model"], "small")
        self.assertEqual(h.counts.get("rerouted"), 1)

    def test_reservation_uses_max_tokens_else_the_default(self):
        h = Fake(HookConfig(default_output_tokens=77), [ALLOW, ALLOW])
        run(h.async_pre_call_hook(Auth(team_id="t"), None, call(max_tokens=5), "completion"))
        run(h.async_pre_call_hook(Auth(team_id="t"), None, call(), "completion"))
        self.assertEqual([b["usage"]["output_tokens"] for _, b in h.sent], [5, 77])

    def test_enforce_max_tokens_sets_it_only_when_absent(self):
        h = Fake(HookConfig(default_output_tokens=77, enforce_max_tokens=True), [ALLOW, ALLOW])
        a = run(h.async_pre_call_hook(Auth(team_id="t"), None, call(), "completion"))
        b = run(h.async_pre_call_hook(Auth(team_id="t"), None, call(max_tokens=5), "completion"))
        self.assertEqual((a["max_tokens"], b["max_tokens"]), (77, 5))

    def test_shadow_lets_denials_and_reroutes_through_unchanged(self):
        h = Fake(HookConfig(shadow=True), [deny("budget"), dict(ALLOW, model="small")])
        a = run(h.async_pre_call_hook(Auth(team_id="t"), None, call("big"), "completion"))
        b = run(h.async_pre_call_hook(Auth(team_id="t"), None, call("big"), "completion"))
        self.assertEqual((a["model"], b["model"]), ("big", "big"))
        self.assertEqual((h.counts["shadow_would_deny"], h.counts["shadow_would_reroute"]), (1, 1))
        self.assertEqual((a["metadata"]["purser"]["would"], b["metadata"]["purser"]["would"]), ("deny", "reroute"))

    def test_sidecar_errors_follow_the_fail_mode(self):
        down = hookmod.SidecarError("/v1/authorize timed out after 250 ms")
        h = Fake(HookConfig(fail_mode="deny"), [down])
        with self.assertRaises(hookmod.HTTPException) as e:
            run(h.async_pre_call_hook(Auth(team_id="t"), None, call(), "completion"))
        self.assertEqual(e.exception.status_code, 503)
        h = Fake(HookConfig(fail_mode="allow"), [down])
        data = run(h.async_pre_call_hook(Auth(team_id="t"), None, call(), "completion"))
        self.assertEqual((data["model"], h.counts["sidecar_error_allowed"]), ("m", 1))

    def test_an_unmapped_region_is_refused_and_released(self):
        cfg = HookConfig(deployments={"m": {"us": "m-us", "eu": "m-eu"}})
        h = Fake(cfg, [dict(ALLOW, region="ap"), {"released": True}])
        with self.assertRaises(hookmod.HTTPException) as e:
            run(h.async_pre_call_hook(Auth(team_id="t"), None, call("m-us"), "completion"))
        self.assertEqual(e.exception.status_code, 403)
        self.assertEqual(h.sent[0][1]["region"], "us")
        self.assertEqual(h.sent[1], ("/v1/release", {"decision_id": "d-1"}))


class AfterCall(Quiet):
    def test_success_settles_the_reported_usage_once(self):
        h = Fake(HookConfig(), [{"outcome": "settled", "cost": 1}])
        state = {"id": "d-1", "reserved": True, "usage": {"input_tokens": 9, "output_tokens": 9}}
        kwargs = {"litellm_params": {"metadata": {"purser": state}}}
        usage = {"prompt_tokens": 12, "completion_tokens": 3}
        run(h.async_log_success_event(kwargs, {"usage": usage}, None, None))
        run(h.async_log_success_event(kwargs, {"usage": usage}, None, None))
        self.assertEqual(h.sent, [("/v1/settle", {"decision_id": "d-1", "usage": {
            "input_tokens": 12, "cached_input_tokens": 0, "cache_write_tokens": 0, "output_tokens": 3}})])

    def test_nothing_reserved_nothing_settled_and_failure_releases(self):
        h = Fake(HookConfig(), [{"released": True}])
        run(h.async_log_success_event({"metadata": {"purser": {"id": "d-1", "reserved": False}}}, {}, None, None))
        self.assertEqual(h.sent, [])
        run(h.async_post_call_failure_hook({"metadata": {"purser": {"id": "d-3", "reserved": True}}}, Exception(), None))
        self.assertEqual(h.sent, [("/v1/release", {"decision_id": "d-3"})])


if __name__ == "__main__":
    unittest.main()
