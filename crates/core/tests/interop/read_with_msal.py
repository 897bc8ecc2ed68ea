"""Reads a token cache file with the real `msal` package (1.39.0) as an MSAL script would, offline.

    python read_with_msal.py CACHE_FILE CLIENT_ID TENANT SCOPE...

A `PublicClientApplication` on the file lists its accounts (`get_accounts`), asks each for a token
silently (`acquire_token_silent`: a valid access token comes from the cache, an expired one makes
MSAL redeem the account's refresh token), then forces a refresh to show which refresh token MSAL
found for the account. The token endpoint is the in-process stand-in (offline_identity.py).

Prints JSON: {"usernames": [...], "access_tokens": {username: secret}, "refresh_tokens": {username:
the refresh token MSAL sent}}; an account MSAL finds no token of this app for is in neither map.
"""

import json
import sys
import warnings
from pathlib import Path

import msal

sys.path.insert(0, str(Path(__file__).parent))
from offline_identity import OfflineIdentityPlatform, User  # noqa: E402

path, client_id, tenant, scopes = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
cache = msal.SerializableTokenCache()
cache.deserialize(path.read_text())
platform = OfflineIdentityPlatform(client_id, {})
app = msal.PublicClientApplication(
    client_id, authority=f"https://login.microsoftonline.com/{tenant}", token_cache=cache,
    http_client=platform)
accounts = app.get_accounts()
seen = {"usernames": [a["username"] for a in accounts], "access_tokens": {}, "refresh_tokens": {}}
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    for account in accounts:
        name = account["username"]
        platform.current_user = User(account["local_account_id"], account["home_account_id"].split(".")[1],
                                     name, name)
        before = len(platform.refresh_tokens_seen)
        result = app.acquire_token_silent(scopes, account=account)
        if not result or "access_token" not in result:
            continue
        if len(platform.refresh_tokens_seen) == before:
            seen["access_tokens"][name] = result["access_token"]
            result = app.acquire_token_silent(scopes, account=account, force_refresh=True)
            assert result and "access_token" in result, f"no refresh for {name}: {result}"
        seen["refresh_tokens"][name] = platform.refresh_tokens_seen[-1]
print(json.dumps(seen))
