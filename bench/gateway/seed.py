#!/usr/bin/env python3
"""Sets a keygate node up for bench/gateway.sh through its REST APIs (Python standard
library only), and prints the results as shell assignments.

  setup: a bearer token for the super admin (a client registered by DCR, password
         grant with the Publisher, DevPortal and Admin scopes); throttling policies
         with limits far above the load (subscription `BenchSub` with spike arrest,
         application `BenchApp`, resource-level advanced `BenchRes`) and the default
         `Unauthenticated` subscription policy raised to the same limit; two APIs on the
         backend:
           /full/1.0.0  GET /*, auth scheme Any, scope bench_read, resource policy
                        BenchRes, subscription policy BenchSub;
           /off/1.0.0   GET /*, auth scheme None, Unlimited policies;
         an application (BenchApp, JWT tokens) subscribed to both, its production keys
         (generate-keys) and a client_credentials token with scope bench_read.
  --apis N --subscriptions M: N more APIs like /full (`/seedI/1.0.0`) and M more
         subscriptions, spread over M / 100 applications of 100 subscriptions each
         (application j subscribes to APIs 100 j ... 100 j + 99, modulo N), created by
         `--concurrency` threads with one kept-alive connection each; the rate is
         printed to stderr.

Usage: seed.py https://127.0.0.1:9643 BACKEND_URL PASSWORD [--apis N] [--subscriptions M]
"""

import argparse
import base64
import http.client
import json
import queue
import ssl
import sys
import threading
import time
import urllib.parse

SCOPES = (
    "apim:api_view apim:api_create apim:api_publish apim:subscribe apim:app_manage "
    "apim:sub_manage apim:tier_view apim:tier_manage"
)
HUGE = 1_000_000_000


class Rest:
    """One kept-alive HTTPS connection to the management listener."""

    def __init__(self, base, auth):
        url = urllib.parse.urlsplit(base)
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        self.conn = http.client.HTTPSConnection(url.hostname, url.port, context=context)
        self.auth = auth

    def call(self, method, path, body=None, form=None, auth=None, ok=(200, 201)):
        headers = {"Authorization": auth or self.auth}
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        elif form is not None:
            data = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in range(3):
            try:
                self.conn.request(method, path, body=data, headers=headers)
                response = self.conn.getresponse()
                text = response.read().decode()
                break
            except (http.client.HTTPException, OSError):
                self.conn.close()
                if attempt == 2:
                    raise
        if response.status not in ok:
            sys.exit(f"{method} {path}: {response.status} {text}")
        return json.loads(text) if text else None


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def limit(count, unit="min"):
    return {
        "type": "REQUESTCOUNTLIMIT",
        "requestCount": {"timeUnit": unit, "unitTime": 1, "requestCount": count},
    }


def api_body(name, context, backend, full):
    operation = {"target": "/*", "verb": "GET"}
    if full:
        operation.update(scopes=["bench_read"], throttlingPolicy="BenchRes")
    else:
        operation.update(authType="None", throttlingPolicy="Unlimited")
    return {
        "name": name,
        "context": context,
        "version": "1.0.0",
        "endpointConfig": {"production_endpoints": {"url": backend}},
        "policies": ["BenchSub"] if full else ["Unlimited"],
        "operations": [operation],
    }


def publish(rest, name, context, backend, full):
    api = rest.call("POST", "/api/am/publisher/v1/apis", api_body(name, context, backend, full))
    rest.call(
        "POST",
        f"/api/am/publisher/v1/apis/change-lifecycle?apiId={api['id']}&action=Publish",
    )
    return api["id"]


def application(rest, name):
    app = rest.call(
        "POST",
        "/api/am/devportal/v1/applications",
        {"name": name, "throttlingPolicy": "BenchApp", "tokenType": "JWT"},
    )
    return app["applicationId"]


def subscribe(rest, app, api, policy):
    rest.call(
        "POST",
        "/api/am/devportal/v1/subscriptions",
        {"applicationId": app, "apiId": api, "throttlingPolicy": policy},
    )


def admin_bearer(base, password):
    rest = Rest(base, basic("admin", password))
    client = rest.call(
        "POST",
        "/client-registration/v1/register",
        {
            "client_name": "bench-rest",
            "grant_types": ["password"],
            "token_endpoint_auth_method": "client_secret_basic",
            "token_type_extension": "JWT",
        },
    )
    token = rest.call(
        "POST",
        "/oauth2/token",
        form={"grant_type": "password", "username": "admin", "password": password, "scope": SCOPES},
        auth=basic(client["client_id"], client["client_secret"]),
    )
    return "Bearer " + token["access_token"]


def setup(base, backend, bearer):
    rest = Rest(base, bearer)
    policies = "/api/am/admin/v1/throttling/policies"
    rest.call(
        "POST",
        f"{policies}/subscription",
        {
            "policyName": "BenchSub",
            "defaultLimit": limit(HUGE),
            "rateLimitCount": HUGE,
            "rateLimitTimeUnit": "sec",
            "stopOnQuotaReach": True,
        },
    )
    rest.call("POST", f"{policies}/application", {"policyName": "BenchApp", "defaultLimit": limit(HUGE)})
    rest.call(
        "POST",
        f"{policies}/advanced",
        {"policyName": "BenchRes", "level": "resourceLevel", "defaultLimit": limit(HUGE)},
    )
    # Calls to resources without authentication count under WSO2's `Unauthenticated`
    # subscription policy (500 per minute by default): raised above the load.
    listed = rest.call("GET", f"{policies}/subscription?limit=1000")
    unauthenticated = next(p for p in listed["list"] if p["policyName"] == "Unauthenticated")
    unauthenticated["defaultLimit"] = limit(HUGE)
    rest.call("PUT", f"{policies}/subscription/{unauthenticated['policyId']}", unauthenticated)
    full = publish(rest, "bench-full", "/full", backend, True)
    off = publish(rest, "bench-off", "/off", backend, False)
    app = application(rest, "bench-app")
    subscribe(rest, app, full, "BenchSub")
    subscribe(rest, app, off, "Unlimited")
    keys = rest.call(
        "POST",
        f"/api/am/devportal/v1/applications/{app}/generate-keys",
        {"keyType": "PRODUCTION", "grantTypesToBeSupported": ["client_credentials"]},
    )
    token = rest.call(
        "POST",
        "/oauth2/token",
        form={"grant_type": "client_credentials", "scope": "bench_read"},
        auth=basic(keys["consumerKey"], keys["consumerSecret"]),
    )
    if "bench_read" not in token.get("scope", "").split():
        sys.exit(f"the token lacks scope bench_read: {token.get('scope')!r}")
    return token["access_token"]


def in_parallel(base, bearer, jobs, concurrency, what):
    """Runs every job (a function of a Rest) on `concurrency` threads; answers results
    in job order and prints the rate."""
    work = queue.Queue()
    for index, job in enumerate(jobs):
        work.put((index, job))
    results = [None] * len(jobs)
    failures = []

    def worker():
        rest = Rest(base, bearer)
        while not failures:
            try:
                index, job = work.get_nowait()
            except queue.Empty:
                return
            try:
                results[index] = job(rest)
            except BaseException as error:  # a failed call ends the seeding
                failures.append(error)

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        sys.exit(f"{what}: {failures[0]}")
    took = time.monotonic() - started
    print(f"{what}: {len(jobs)} in {took:.1f} s ({len(jobs) / took:.0f}/s)", file=sys.stderr)
    return results


def seed(base, backend, bearer, apis, subscriptions, concurrency):
    started = time.monotonic()
    api_ids = in_parallel(
        base,
        bearer,
        [lambda r, i=i: publish(r, f"seed{i}", f"/seed{i}", backend, True) for i in range(apis)],
        concurrency,
        "APIs created and published",
    )
    per_app = 100
    apps = -(-subscriptions // per_app)
    app_ids = in_parallel(
        base,
        bearer,
        [lambda r, j=j: application(r, f"seed-app{j}") for j in range(apps)],
        concurrency,
        "applications created",
    )
    pairs = [(app_ids[n // per_app], api_ids[n % apis]) for n in range(subscriptions)]
    in_parallel(
        base,
        bearer,
        [lambda r, p=p: subscribe(r, p[0], p[1], "BenchSub") for p in pairs],
        concurrency,
        "subscriptions created",
    )
    took = time.monotonic() - started
    print(f"seeded {apis} APIs and {subscriptions} subscriptions in {took:.0f} s", file=sys.stderr)
    return took


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base")
    parser.add_argument("backend")
    parser.add_argument("password")
    parser.add_argument("--apis", type=int, default=0)
    parser.add_argument("--subscriptions", type=int, default=0)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    bearer = admin_bearer(args.base, args.password)
    token = setup(args.base, args.backend, bearer)
    seconds = 0
    if args.apis:
        seconds = seed(args.base, args.backend, bearer, args.apis, args.subscriptions, args.concurrency)
    print(f"token={token}")
    print(f"seed_seconds={seconds:.0f}")


if __name__ == "__main__":
    main()
