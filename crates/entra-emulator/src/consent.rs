//! What a user has agreed an app may do: their own consents plus the app's admin-consented
//! (pre-consented) scopes, as consent keys (`{resource}/{scope}`, `offline_access`).

use std::collections::BTreeSet;

use uuid::Uuid;

use crate::directory::App;
use crate::scopes::static_keys;
use crate::state::Shared;

pub fn granted(state: &Shared, user: Uuid, app: &App) -> BTreeSet<String> {
    let mut granted = state.store().consented(user, app.client_id());
    granted.extend(static_keys(&app.reg.pre_consented_scopes, &state.dir));
    granted
}
