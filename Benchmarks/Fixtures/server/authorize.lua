-- wrk: POST one realistic request to /v1/authorize on every call.
wrk.method = "POST"
wrk.path = "/v1/authorize"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"team":"payments","environment":"production","model":"claude-sonnet-4-5","usage":{"input_tokens":1200,"output_tokens":800}}'
