"""Reads a token file with the real python-o365 (and MSAL underneath) and prints what they see.

    python read_with_python_o365.py TOKEN_FILE CLIENT_ID TENANT

Prints JSON: {"usernames": [...], "is_authenticated": bool, "access_tokens": {user: secret},
"refresh_tokens": {user: secret}}. No network: nothing here contacts an identity provider.
"""

import json
import sys
from pathlib import Path

from O365 import Account
from O365.utils import FileSystemTokenBackend

path, client_id, tenant = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
backend = FileSystemTokenBackend(token_path=path.parent, token_filename=path.name)
account = Account((client_id,), auth_flow_type="public", tenant_id=tenant, token_backend=backend)
authenticated = account.is_authenticated
usernames = account.get_authenticated_usernames()
tokens = account.con.token_backend
print(json.dumps({
    "usernames": usernames,
    "is_authenticated": authenticated,
    "access_tokens": {u: (tokens.get_access_token(username=u) or {}).get("secret") for u in usernames},
    "refresh_tokens": {u: (tokens.get_refresh_token(username=u) or {}).get("secret") for u in usernames},
}))
