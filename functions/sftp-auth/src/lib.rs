//! The `sftp-auth` Lambda: AWS Transfer Family's identity provider. It reads the declarant's
//! account from the state table and answers with the role, the logical home directories and
//! the session policy that confine the declarant to its own folders, and its public keys;
//! any refusal answers `{}` (Transfer then denies the login) and is logged with its reason.
//! The user name is read in any case: `LABO-A` logs in as the account `labo-a`.

mod gateway;

pub use gateway::{
    AuthRequest, AuthResponse, Gateway, GatewayError, KeyArn, Refusal, SESSION_POLICY_MAX_LEN,
    authorise,
};
use lambda_runtime::Diagnostic;
use medistock_domain::DeclarantId;
use medistock_domain::env::{ConfigError, Retry};
use medistock_domain::store::{AccountStore, StoreError};
use serde_json::{Value, json};

/// The environment variables the function reads.
pub const ENV_VARS: [&str; 4] = [
    "INBOX_BUCKET",
    "TABLE_NAME",
    "SFTP_ROLE_ARN",
    "DATA_KEY_ARN",
];

/// Configuration read once at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// State table (accounts).
    pub table_name: String,
    /// Bucket behind the gateway, the KMS key that encrypts it, role Transfer assumes.
    pub gateway: Gateway,
}

impl Config {
    /// Reads the configuration through `var`; the error names the missing or invalid variable.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let [inbox_bucket, table_name, role_arn, data_key_arn] =
            medistock_domain::env::required(var, ENV_VARS)?;
        let gateway = Gateway::new(&inbox_bucket, &data_key_arn, &role_arn).map_err(|e| {
            let names = match e {
                GatewayError::InvalidBucket(_) => "INBOX_BUCKET",
                GatewayError::InvalidKeyArn(_) => "DATA_KEY_ARN",
                GatewayError::InvalidRoleArn(..) => "SFTP_ROLE_ARN",
                GatewayError::PolicyTooLong(_) => "INBOX_BUCKET, DATA_KEY_ARN",
            };
            ConfigError::Invalid {
                name: names,
                reason: e.to_string(),
            }
        })?;
        Ok(Self {
            table_name,
            gateway,
        })
    }
}

/// Handles one login: the answer for Transfer, or a storage error (Transfer then refuses the
/// login and the declarant retries; nothing is granted on an error).
pub async fn handle<S: AccountStore>(
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
    let id = DeclarantId::parse(&request.username).ok();
    let account = match &id {
        Some(id) => state.account(id.as_str()).await?,
        None => None,
    };
    match authorise(&request, account.as_ref(), &config.gateway) {
        Ok(answer) => {
            tracing::info!(
                declarant = id.as_ref().map(DeclarantId::as_str),
                user = request.username,
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

/// A storage failure during a login: Transfer refuses it and the declarant retries; reported
/// as retryable.
pub fn diagnostic(e: StoreError) -> Diagnostic {
    Diagnostic {
        error_type: Retry::Helps.error_type("Storage"),
        error_message: e.to_string(),
    }
}
