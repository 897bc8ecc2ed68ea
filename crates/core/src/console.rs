//! python-o365's console sign-in (`Account.authenticate()` with `consent_input_token`): print
//! the URL, the person signs in in any browser, then pastes the address the browser ended on.
//! Used by the `console_login` example and by `o365-auth login --console`.

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};

use crate::account::Account;
use crate::error::{Error, Result};
use crate::flows::{AuthorizeOptions, NATIVE_CLIENT_REDIRECT};
use crate::token::AccountIdentity;

/// Runs the console flow with Microsoft's `nativeclient` redirect. An empty line aborts
/// ([`Error::Cancelled`]), as python-o365's handler aborts on a falsy answer.
pub async fn console_sign_in<R, W>(
    account: &Account,
    options: &AuthorizeOptions,
    input: &mut R,
    output: &mut W,
) -> Result<AccountIdentity>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let (url, pending) = account
        .authorization_url(NATIVE_CLIENT_REDIRECT, options)
        .await?;
    let prompt = format!(
        "Visit the following url to give consent:\n{url}\n\
         Sign in, then paste the address your browser ended on (an empty line cancels):\n"
    );
    write(output, &prompt).await?;
    let mut line = String::new();
    input.read_line(&mut line).await.map_err(|error| {
        Error::invalid_input("redirected URL", format!("could not read it: {error}"))
    })?;
    if line.trim().is_empty() {
        write(output, "Authentication Flow aborted.\n").await?;
        return Err(Error::Cancelled);
    }
    match account.complete(line.trim(), &pending).await {
        Ok(identity) => {
            let done = format!(
                "Authentication Flow Completed. Signed in as {}.\n",
                identity.username
            );
            write(output, &done).await?;
            Ok(identity)
        }
        Err(error) => {
            write(output, &format!("Sign-in failed: {error}\n")).await?;
            Err(error)
        }
    }
}

/// A terminal that cannot be written to has gone away: the person cannot finish the flow.
async fn write<W: AsyncWrite + Unpin>(output: &mut W, text: &str) -> Result<()> {
    output
        .write_all(text.as_bytes())
        .await
        .map_err(|_| Error::Cancelled)?;
    output.flush().await.map_err(|_| Error::Cancelled)
}
