"""Unit tests of the hook's pure parts: python3 -m unittest discover -s tests -t ."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

from purser_litellm import core  # noqa: E402
from purser_litellm.core import ConfigError, HookConfig  # noqa: E402


class Auth:
    def __init__(self, **kw):
        self.__dict__.update(kw)


class TokenEstimate(unittest.TestCase):
    def test_counts_bytes_over_bytes_per_token_and_per_message_overhead(self):
        data = {"messages": [{"role": "user", "content": "x" * 30}]}
        # "user" (4 bytes) + 30 bytes = 34 bytes / 3 -> 12, + 4 per message + 3 per call
        self.assertEqual(core.estimate_prompt_tokens(data, 3), 12 + 4 + 3)
        self.assertEqual(core.estimate_prompt_tokens(data, 1), 34 + 7)

    def test_multibyte_text_counts_its_utf8_bytes(self):
        ascii_ = core.estimate_prompt_tokens({"messages": [{"role": "user", "content": "ab"}]}, 1)
        cjk = core.estimate_prompt_tokens({"messages": [{"role": "user", "content": "日本"}]}, 1)
        self.assertEqual(cjk - ascii_, 4)  # 6 bytes against 2

    def test_content_parts_count_text_not_images(self):
        with_image = {"messages": [{"role": "user", "content": [
            {"type": "text", "text": "describe"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 10000}}]}]}
        without = {"messages": [{"role": "user", "content": [{"type": "text", "text": "describe"}]}]}
        self.assertEqual(core.estimate_prompt_tokens(with_image), core.estimate_prompt_tokens(without))

    def test_tools_add_to_the_estimate(self):
        base = {"messages": [{"role": "user", "content": "hi"}]}
        tools = dict(base, tools=[{"type": "function", "function": {"name": "lookup", "parameters": {}}}])
        self.assertGreater(core.estimate_prompt_tokens(tools), core.estimate_prompt_tokens(base))

    def test_more_text_never_estimates_fewer_tokens(self):
        last = 0
        for n in range(0, 400, 7):
            t = core.estimate_prompt_tokens({"messages": [{"role": "user", "content": "w" * n}]})
            self.assertGreaterEqual(t, last)
            last = t


class ReservationSize(unittest.TestCase):
    cfg = HookConfig(default_output_tokens=500, output_tokens_per_model={"m": 300},
                     output_tokens_per_team={"t": 100})

    def test_the_request_cap_wins(self):
        self.assertEqual(core.reserved_output_tokens(self.cfg, {"max_tokens": 42}, "m", "t"), (42, "request"))
        self.assertEqual(core.reserved_output_tokens(self.cfg, {"max_completion_tokens": 7, "max_tokens": 42}, "m", "t"),
                         (7, "request"))

    def test_n_choices_multiply_the_cap(self):
        self.assertEqual(core.reserved_output_tokens(self.cfg, {"max_tokens": 40, "n": 3}, "m", None), (120, "request"))

    def test_team_then_model_then_default(self):
        self.assertEqual(core.reserved_output_tokens(self.cfg, {}, "m", "t"), (100, "team"))
        self.assertEqual(core.reserved_output_tokens(self.cfg, {}, "m", "other"), (300, "model"))
        self.assertEqual(core.reserved_output_tokens(self.cfg, {}, "x", None), (500, "default"))

    def test_a_bad_max_tokens_is_ignored(self):
        for bad in ("100", -1, True, 1.5, None):
            self.assertEqual(core.reserved_output_tokens(self.cfg, {"max_tokens": bad}, "x", None), (500, "default"))


class Identity(unittest.TestCase):
    def test_from_the_key_and_team_metadata_only(self):
        cfg = HookConfig(environment="production", tags={"feature": "feature", "cc": "cost_center"})
        auth = Auth(team_id="payments", team_alias="Payments", user_id="svc-1",
                    metadata={"purser_environment": "qa", "feature": "checkout"},
                    team_metadata={"cost_center": "cc-7", "feature": "team-level"})
        who = core.identity(cfg, auth)
        self.assertEqual(who, {"team": "payments", "environment": "qa", "user": "svc-1",
                               "tags": {"feature": "checkout", "cc": "cc-7"}, "region": None})

    def test_the_proxy_environment_when_the_key_has_none_and_team_alias(self):
        cfg = HookConfig(environment="staging", team_field="team_alias")
        who = core.identity(cfg, Auth(team_id="uuid-1", team_alias="search", user_id=None, metadata={}, team_metadata=None))
        self.assertEqual((who["team"], who["environment"], who["user"]), ("search", "staging", None))

    def test_a_dict_auth_works_too(self):
        who = core.identity(HookConfig(), {"team_id": "t", "metadata": {"purser_user": "u", "purser_region": "eu-west-1"}})
        self.assertEqual((who["team"], who["user"], who["region"]), ("t", "u", "eu-west-1"))


class Mapping(unittest.TestCase):
    cfg = HookConfig(models={"opus": "claude-opus-4-5", "haiku-broken": "claude-haiku-4-5"},
                     deployments={"claude-sonnet-4-5": {"us-east-1": "sonnet", "eu-central-1": "sonnet-eu"}})

    def test_model_names(self):
        self.assertEqual(core.purser_model(self.cfg, "opus"), "claude-opus-4-5")
        self.assertEqual(core.purser_model(self.cfg, "gpt-5"), "gpt-5")
        self.assertEqual(core.deployment_region(self.cfg, "sonnet-eu"), ("claude-sonnet-4-5", "eu-central-1"))
        self.assertEqual(core.deployment_region(self.cfg, "opus"), ("claude-opus-4-5", None))

    def test_route_unchanged(self):
        self.assertEqual(core.route(self.cfg, "opus", {"model": "claude-opus-4-5", "region": None}), "opus")
        self.assertEqual(core.route(self.cfg, "sonnet", {"model": "claude-sonnet-4-5", "region": "us-east-1"}), "sonnet")
        self.assertEqual(core.route(self.cfg, "opus", {"model": "claude-opus-4-5", "region": "us-east-1"}), "opus")

    def test_route_to_another_model_and_region(self):
        self.assertEqual(core.route(self.cfg, "opus", {"model": "claude-sonnet-4-5", "region": "eu-central-1"}), "sonnet-eu")
        self.assertEqual(core.route(self.cfg, "sonnet", {"model": "claude-sonnet-4-5", "region": "eu-central-1"}), "sonnet-eu")
        self.assertEqual(core.route(self.cfg, "sonnet-eu", {"model": "claude-sonnet-4-5", "region": "us-east-1"}), "sonnet")
        self.assertEqual(core.route(self.cfg, "sonnet", {"model": "claude-haiku-4-5", "region": None}), "haiku-broken")
        self.assertEqual(core.route(self.cfg, "opus", {"model": "gpt-5-mini", "region": None}), "gpt-5-mini")

    def test_route_to_an_unmapped_region_is_none(self):
        self.assertIsNone(core.route(self.cfg, "sonnet", {"model": "claude-sonnet-4-5", "region": "ap-south-1"}))


class Errors(unittest.TestCase):
    def decision(self, *violations):
        return {"decision": "deny", "decision_id": "d-1", "violations": list(violations)}

    def v(self, rule, kind, effect="deny"):
        return {"rule": rule, "kind": kind, "effect": effect, "message": f"{rule} says no", "source": "p.yaml:3:5"}

    def test_budget_is_429_with_message_and_source(self):
        status, body = core.deny_error(self.decision(self.v("team.x.day", "budget")))
        self.assertEqual(status, 429)
        self.assertEqual(body["message"], "purser: team.x.day says no (team.x.day, p.yaml:3:5)")
        self.assertEqual((body["rule"], body["source"], body["type"]), ("team.x.day", "p.yaml:3:5", "budget_exceeded"))

    def test_access_is_403(self):
        for kind in ("access", "region", "rule", "unknown", "cost"):
            self.assertEqual(core.deny_error(self.decision(self.v("r", kind)))[0], 403, kind)

    def test_a_budget_among_others_is_429_naming_the_budget(self):
        status, body = core.deny_error(self.decision(self.v("team-model", "access", "warn"), self.v("rule-1", "rule"),
                                                     self.v("org-month", "budget")))
        self.assertEqual((status, body["rule"]), (429, "org-month"))
        self.assertEqual([v["rule"] for v in body["violations"]], ["rule-1", "org-month"])

    def test_ledger_unavailable_is_503(self):
        self.assertEqual(core.deny_error(self.decision(self.v("ledger-unavailable", "system")))[0], 503)

    def test_no_violation_still_answers(self):
        self.assertEqual(core.deny_error(self.decision())[0], 403)


class Usage(unittest.TestCase):
    def test_openai_cached_tokens_are_subtracted(self):
        u = {"prompt_tokens": 1000, "completion_tokens": 50, "prompt_tokens_details": {"cached_tokens": 600}}
        self.assertEqual(core.settle_usage(u), {"input_tokens": 400, "cached_input_tokens": 600,
                                                "cache_write_tokens": 0, "output_tokens": 50})

    def test_native_shapes(self):
        anthropic = {"input_tokens": 50, "output_tokens": 7, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 30}
        self.assertEqual(core.settle_usage(anthropic), {"input_tokens": 50, "cached_input_tokens": 100,
                                                        "cache_write_tokens": 30, "output_tokens": 7})
        responses = {"input_tokens": 500, "output_tokens": 9, "input_tokens_details": {"cached_tokens": 200}}
        self.assertEqual(core.settle_usage(responses), {"input_tokens": 300, "cached_input_tokens": 200,
                                                        "cache_write_tokens": 0, "output_tokens": 9})

    def test_anthropic_cache_reads_and_writes(self):
        u = {"prompt_tokens": 1000, "completion_tokens": 5, "cache_read_input_tokens": 100,
             "cache_creation_input_tokens": 300}
        self.assertEqual(core.settle_usage(u)["input_tokens"], 600)
        self.assertIsNone(core.settle_usage(None))


class Config(unittest.TestCase):
    def test_rejects_unknown_keys_and_bad_values(self):
        with self.assertRaises(ConfigError):
            HookConfig.from_mapping({"fail-mode": "deny"})
        for bad in ({"fail_mode": "open"}, {"timeout_ms": 0}, {"bytes_per_token": 0.5},
                    {"default_output_tokens": "1k"}, {"team_field": "team"}, {"deployments": {"m": ["r"]}}):
            with self.assertRaises(ConfigError, msg=str(bad)):
                HookConfig.from_mapping(bad)

    def test_accepts_a_full_configuration(self):
        cfg = HookConfig.from_mapping({"url": "http://127.0.0.1:9", "fail_mode": "allow", "shadow": True,
                                       "timeout_ms": 50, "output_tokens_per_team": {"t": 10}})
        self.assertEqual((cfg.fail_mode, cfg.shadow, cfg.timeout_ms), ("allow", True, 50))


if __name__ == "__main__":
    unittest.main()
