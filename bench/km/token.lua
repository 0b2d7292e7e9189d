-- wrk: a client_credentials token request (RFC 6749 §4.4.2) with HTTP Basic client
-- authentication. BENCH_BASIC holds base64(client_id:client_secret).
wrk.method = "POST"
wrk.path   = os.getenv("BENCH_PATH") or "/oauth2/token"
wrk.body   = "grant_type=client_credentials&scope=default"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. assert(os.getenv("BENCH_BASIC"), "BENCH_BASIC is not set")
