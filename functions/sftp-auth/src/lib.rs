//! The `sftp-auth` Lambda: AWS Transfer Family's identity provider. It reads the declarant's
//! account from the state table and answers with the role, the logical home directories and
//! the session policy that confine the declarant to its own folders, and its public keys;
//! any refusal answers `{}` (Transfer then denies the login) and is logged with its reason.

use medistock_core::sftp::{AuthRequest, authorise};
use medistock_core::store::{StateStore, StoreError};
use serde_json::{Value, json};

/// The environment variables the function reads.
pub const ENV_VARS: [&str; 3] = ["INBOX_BUCKET", "TABLE_NAME", "SFTP_ROLE_ARN"];

/// Configuration read once at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Bucket behind the gateway.
    pub inbox_bucket: String,
    /// State table (accounts).
    pub table_name: String,
    /// Role Transfer assumes for the declarants' S3 access.
    pub role_arn: String,
}

impl Config {
    /// Reads the configuration through `var`; the error names the missing variable.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let [inbox_bucket, table_name, role_arn] = medistock_core::env::required(var, ENV_VARS)?;
        Ok(Self {
            inbox_bucket,
            table_name,
            role_arn,
        })
    }
}

/// Handles one login: the answer for Transfer, or a storage error (Transfer then refuses the
/// login and the declarant retries; nothing is granted on an error).
pub async fn handle<S: StateStore>(
    state: &S,
    config: &Config,
    payload: Value,
) -> Result<Value, StoreError> {
    let request: AuthRequest = match serde_json::from_value(payload) {
        Ok(request) => request,
        Err(e) => {
            tracing::warn!(error = %e, "requête d'authentification illisible : refusée");
            return Ok(json!({}));
        }
    };
    let account = match medistock_core::domain::DeclarantId::parse(&request.username) {
        Ok(id) => state.account(id.as_str()).await?,
        Err(_) => None,
    };
    match authorise(
        &request,
        account.as_ref(),
        &config.inbox_bucket,
        &config.role_arn,
    ) {
        Ok(answer) => {
            tracing::info!(
                declarant = request.username,
                source_ip = request.source_ip,
                "connexion SFTP autorisée"
            );
            serde_json::to_value(answer).map_err(|e| StoreError::Corrupt(e.to_string()))
        }
        Err(refusal) => {
            tracing::warn!(
                user = request.username,
                source_ip = request.source_ip,
                reason = %refusal,
                "connexion SFTP refusée"
            );
            Ok(json!({}))
        }
    }
}
