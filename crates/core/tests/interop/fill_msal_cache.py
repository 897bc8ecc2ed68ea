"""Fills an MSAL SerializableTokenCache with the real `msal` package (1.39.0), offline, and saves
it where MSAL scripts keep theirs.

    python fill_msal_cache.py CACHE_FILE

`TokenCache.add` takes token responses as MSAL gets them from the token endpoint; here they are
made up (unsigned ID tokens, fake tokens, times from now), so nothing is contacted. Two apps:
the first with two users, one of them holding access tokens for two scope sets (the second
obtained by MSAL itself with `acquire_token_silent`, which redeems and rotates the refresh token
against the in-process token endpoint of offline_identity.py); the second app with one of the
users again and an app-only token (client credentials: no account, no refresh token) for another
tenant.

Prints JSON: what the cache holds, as MSAL reads it back from the file (offline_identity.describe).
"""

import json
import sys
import time
import warnings
from pathlib import Path

import msal

sys.path.insert(0, str(Path(__file__).parent))
from offline_identity import HOST, OfflineIdentityPlatform, User, describe  # noqa: E402

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
FIRST_APP = "7a1c1a2e-5a1e-4f0e-9d7a-0c8f2f7a1c01"
SECOND_APP = "7a1c1a2e-5a1e-4f0e-9d7a-0c8f2f7a1c02"
ERIN = User("00000000-0000-0000-0000-00000000e217", TENANT, "Erin@Contoso.com", "Erin Ölund")
FRANK = User("00000000-0000-0000-0000-00000000f4a1", TENANT, "frank@contoso.com", "Frank")
GRAPH = ["https://graph.microsoft.com/User.Read", "https://graph.microsoft.com/Mail.ReadWrite"]
IMAP = ["https://outlook.office.com/IMAP.AccessAsUser.All"]


def add(cache, client_id, realm, grant_type, scopes, response):
    cache.add({
        "client_id": client_id,
        "scope": scopes,
        "token_endpoint": f"https://{HOST}/{realm}/oauth2/v2.0/token",
        "grant_type": grant_type,
        "response": response,
        "data": {},
    }, now=time.time())


path = Path(sys.argv[1])
cache = msal.SerializableTokenCache()
first = OfflineIdentityPlatform(FIRST_APP, {"erin": ERIN, "frank": FRANK})
second = OfflineIdentityPlatform(SECOND_APP, {"erin": ERIN})
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    add(cache, FIRST_APP, "common", "authorization_code", GRAPH, first.token_response(ERIN, " ".join(GRAPH), None))
    add(cache, FIRST_APP, "common", "authorization_code", GRAPH, first.token_response(FRANK, " ".join(GRAPH), None))
    # Erin's second scope set: MSAL redeems her refresh token and rotates it.
    app = msal.PublicClientApplication(
        FIRST_APP, authority=f"https://{HOST}/common", token_cache=cache, http_client=first)
    erin = app.get_accounts(username=ERIN.username)[0]
    first.current_user = ERIN
    assert "access_token" in app.acquire_token_silent(IMAP, account=erin)
    add(cache, SECOND_APP, "common", "device_code", GRAPH, second.token_response(ERIN, " ".join(GRAPH), None))
    add(cache, SECOND_APP, "contoso.onmicrosoft.com", "client_credentials",
        ["https://graph.microsoft.com/.default"],
        {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
         "access_token": "at-app-only-contoso"})
path.write_text(cache.serialize())

reread = msal.SerializableTokenCache()
reread.deserialize(path.read_text())
print(json.dumps(describe(reread)))
