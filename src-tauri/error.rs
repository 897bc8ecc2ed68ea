use serde::Serialize;

/// What a command returns to the web UI on failure: a stable machine code and a sentence for a
/// person. The UI shows both; tests match on the code.
#[derive(Debug, Serialize)]
pub struct CommandError {
    pub code: &'static str,
    pub message: String,
}

impl From<o365_auth_core::sandbox::SandboxError> for CommandError {
    fn from(error: o365_auth_core::sandbox::SandboxError) -> Self {
        CommandError {
            code: error.code(),
            message: error.to_string(),
        }
    }
}
