"""A stand-in for the Microsoft identity platform that lives inside the Python process: an
`http_client` for MSAL (the interface MSAL documents in `msal.oauth2cli.http`). No socket is
opened and no Microsoft host is contacted; the tokens are made up (unsigned JWTs, fake strings).

It answers OpenID and instance discovery, and the token endpoint for the authorization-code and refresh-token
grants, recording every refresh token it receives (`refresh_tokens_seen`), so a script can show
which refresh token MSAL or python-o365 found in a cache. `describe` lists what a cache holds.
"""

import base64
import json
import time
from urllib.parse import parse_qs, urlparse

HOST = "login.microsoftonline.com"


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def unsigned_jwt(claims: dict) -> str:
    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."


class Response:
    def __init__(self, status_code: int, body: dict):
        self.status_code = status_code
        self.text = json.dumps(body)
        self.headers = {"Content-Type": "application/json"}

    def raise_for_status(self):
        if self.status_code >= 400:
            raise RuntimeError(f"HTTP {self.status_code}: {self.text}")


class User:
    def __init__(self, oid: str, tenant: str, username: str, name: str):
        self.oid, self.tenant, self.username, self.name = oid, tenant, username, name


class OfflineIdentityPlatform:
    """`users` maps an authorization code to the User it signs in."""

    def __init__(self, client_id: str, users: dict):
        self.client_id = client_id
        self.users = users
        self.nonce = None  # the hashed nonce of the sign-in under way (from the auth URI)
        self.current_user = None  # who a refresh-token grant signs in (else found by oid)
        self.refresh_tokens_seen = []
        self.issued = 0

    def expect_sign_in(self, auth_uri: str) -> None:
        self.nonce = parse_qs(urlparse(auth_uri).query).get("nonce", [None])[0]

    def get(self, url, params=None, headers=None, **kwargs):
        parsed = urlparse(url)
        if parsed.path.endswith("/.well-known/openid-configuration"):
            tenant = parsed.path.strip("/").split("/")[0]
            base = f"https://{HOST}/{tenant}"
            return Response(200, {
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "issuer": f"https://{HOST}/{{tenantid}}/v2.0",
                "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            })
        if parsed.path.endswith("/discovery/instance"):
            # Instance discovery, which MSAL asks for the host's aliases when no token matches.
            return Response(200, {
                "tenant_discovery_endpoint": f"https://{HOST}/common/v2.0/.well-known/openid-configuration",
                "api-version": "1.1",
                "metadata": [{
                    "preferred_network": HOST, "preferred_cache": "login.windows.net",
                    "aliases": [HOST, "login.windows.net", "login.microsoft.com", "sts.windows.net"],
                }],
            })
        return Response(404, {"error": "not_found", "error_description": url})

    def post(self, url, params=None, data=None, headers=None, **kwargs):
        form = data if isinstance(data, dict) else {k: v[0] for k, v in parse_qs(data or "").items()}
        if not urlparse(url).path.endswith("/oauth2/v2.0/token"):
            return Response(404, {"error": "not_found", "error_description": url})
        grant = form.get("grant_type")
        if grant == "authorization_code":
            user = self.users[form["code"]]
            nonce = self.nonce
        elif grant == "refresh_token":
            self.refresh_tokens_seen.append(form["refresh_token"])
            user = self.current_user or next(
                u for u in self.users.values() if form["refresh_token"].endswith(u.oid))
            nonce = None
        else:
            return Response(400, {"error": "unsupported_grant_type", "error_description": str(grant)})
        return Response(200, self.token_response(user, form.get("scope", ""), nonce))

    def token_response(self, user: User, scope: str, nonce) -> dict:
        now = int(time.time())
        self.issued += 1
        claims = {
            "aud": self.client_id, "iss": f"https://{HOST}/{user.tenant}/v2.0", "iat": now,
            "nbf": now, "exp": now + 3600, "name": user.name, "oid": user.oid,
            "preferred_username": user.username, "sub": f"sub-{user.oid}", "tid": user.tenant,
            "ver": "2.0",
        }
        if nonce:
            claims["nonce"] = nonce
        granted = " ".join(s for s in scope.split() if s not in ("openid", "profile", "offline_access"))
        return {
            "token_type": "Bearer",
            "scope": granted,
            "expires_in": 3599,
            "ext_expires_in": 3599,
            "access_token": f"at-{self.issued}-{self.client_id[-4:]}-{user.oid}",
            "refresh_token": f"0.rt-{self.issued}-{self.client_id[-4:]}-{user.oid}",
            "id_token": unsigned_jwt(claims),
            "client_info": b64({"uid": user.oid, "utid": user.tenant}),
        }


def describe(cache) -> dict:
    """What an MSAL cache (or python-o365 token backend, which is one) holds, as MSAL reads it."""
    from msal import TokenCache

    kinds = TokenCache.CredentialType
    return {
        "accounts": [
            {"home_account_id": a["home_account_id"], "username": a["username"]}
            for a in cache.search(kinds.ACCOUNT)
        ],
        "refresh_tokens": [
            {"client_id": rt["client_id"], "home_account_id": rt["home_account_id"], "secret": rt["secret"]}
            for rt in cache.search(kinds.REFRESH_TOKEN)
        ],
        "access_tokens": [
            {"client_id": at["client_id"], "home_account_id": at.get("home_account_id") or "",
             "realm": at["realm"], "target": at["target"], "secret": at["secret"],
             "expires_on": int(at["expires_on"])}
            for at in cache.search(kinds.ACCESS_TOKEN)
        ],
    }
