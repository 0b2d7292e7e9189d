-- wrk: introspection (RFC 7662 §2.1) of one opaque access token by the client it was
-- issued to, with HTTP Basic client authentication. BENCH_BASIC holds
-- base64(client_id:client_secret), BENCH_TOKEN the token.
wrk.method = "POST"
wrk.path   = os.getenv("BENCH_PATH") or "/oauth2/introspect"
wrk.body   = "token=" .. assert(os.getenv("BENCH_TOKEN"), "BENCH_TOKEN is not set") .. "&token_type_hint=access_token"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. assert(os.getenv("BENCH_BASIC"), "BENCH_BASIC is not set")
