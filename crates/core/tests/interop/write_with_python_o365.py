"""Signs two users in through the real python-o365 (2.1.10) on two apps and lets its
FileSystemTokenBackend save the token file, offline.

    python write_with_python_o365.py TOKEN_FILE

python-o365's own code runs end to end: `Connection.get_authorization_url`, then
`Connection.request_token` with the redirect a browser would come back with, then
`FileSystemTokenBackend.save_token`. Only MSAL's HTTP client is swapped for an in-process
stand-in (offline_identity.py), so no network and no identity provider is involved.

Prints JSON: what the token backend holds after the sign-ins, as MSAL reads it
(offline_identity.describe), for the test to compare with what the store imported.
"""

import json
import sys
from pathlib import Path

from msal import PublicClientApplication
from O365 import Account
from O365.utils import FileSystemTokenBackend

sys.path.insert(0, str(Path(__file__).parent))
from offline_identity import OfflineIdentityPlatform, User, describe  # noqa: E402

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
MAIL_APP = "5e0c1a2e-5a1e-4f0e-9d7a-0c8f2f7a1b22"
CALENDAR_APP = "5e0c1a2e-5a1e-4f0e-9d7a-0c8f2f7a1b33"
SIGN_INS = {
    MAIL_APP: [
        ("code-carol", User("00000000-0000-0000-0000-0000000ca201", TENANT, "Carol@Contoso.com", "Carol Çelik")),
        ("code-dave", User("00000000-0000-0000-0000-0000000da7e0", TENANT, "dave@contoso.com", "Dave")),
    ],
    CALENDAR_APP: [
        ("code-carol", User("00000000-0000-0000-0000-0000000ca201", TENANT, "Carol@Contoso.com", "Carol Çelik")),
    ],
}
SCOPES = {
    MAIL_APP: ["https://graph.microsoft.com/Mail.ReadWrite", "https://graph.microsoft.com/User.Read"],
    CALENDAR_APP: ["https://graph.microsoft.com/Calendars.Read"],
}

path = Path(sys.argv[1])
backend = FileSystemTokenBackend(token_path=path.parent, token_filename=path.name)
for client_id, sign_ins in SIGN_INS.items():
    account = Account((client_id,), auth_flow_type="public", tenant_id="common", token_backend=backend)
    con = account.con
    platform = OfflineIdentityPlatform(client_id, {code: user for code, user in sign_ins})
    con._msal_client = PublicClientApplication(
        client_id, authority=con._msal_authority, token_cache=con.token_backend, http_client=platform)
    for code, user in sign_ins:
        url, flow = con.get_authorization_url(requested_scopes=SCOPES[client_id])
        platform.expect_sign_in(url)
        redirect = f"{con.oauth_redirect_url}?code={code}&state={flow['state']}"
        assert con.request_token(redirect, flow=flow), f"python-o365 refused the sign-in of {user.username}"
assert path.exists(), "python-o365 saved the token file"
reread = FileSystemTokenBackend(token_path=path.parent, token_filename=path.name)
assert reread.load_token()
print(json.dumps(describe(reread)))
