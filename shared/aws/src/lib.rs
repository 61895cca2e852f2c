//! AWS adapters of the storage ports: S3, DynamoDB (single table, conditional writes) and SNS.
//! Clients are built once from one `SdkConfig` and passed in; errors come back after the SDK's
//! own retries (exponential backoff with jitter, throttling included).

mod dynamo;
mod s3;
mod sns;
pub mod stream;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, SdkConfig};

pub use dynamo::{DynamoState, keys};
pub use s3::S3Objects;
pub use sns::{EMAIL_ATTRIBUTE, SMS_ATTRIBUTE, SnsNotifier};

use medistock_domain::store::StoreError;

/// Attempts per call, backoff included: enough to ride out DynamoDB throttling bursts.
pub const MAX_ATTEMPTS: u32 = 8;

/// The shared SDK configuration: region and credentials from the usual chain, `AWS_ENDPOINT_URL`
/// honoured (emulators), standard retries with `MAX_ATTEMPTS`.
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
        .load()
        .await
}

/// An S3 client; path-style addressing whenever an endpoint is set (emulators resolve
/// `bucket.host` poorly).
pub fn s3_client(config: &SdkConfig) -> aws_sdk_s3::Client {
    let path_style = config.endpoint_url().is_some();
    let conf = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(path_style)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// The outcome of a conditional DynamoDB write: `true` when written, `false` when its
/// condition failed (`ConditionalCheckFailedException`), an error otherwise.
fn conditional<T, E, R>(
    operation: &'static str,
    result: Result<T, aws_sdk_s3::error::SdkError<E, R>>,
) -> Result<bool, StoreError>
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match result {
        Ok(_) => Ok(true),
        Err(e)
            if e.as_service_error().and_then(|s| s.code())
                == Some("ConditionalCheckFailedException") =>
        {
            Ok(false)
        }
        Err(e) => Err(aws_error(operation, e)),
    }
}

/// An SDK failure, with the service's code and message when there is one.
fn aws_error<E, R>(operation: &'static str, err: aws_sdk_s3::error::SdkError<E, R>) -> StoreError
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let message = match err.as_service_error() {
        Some(service) => format!(
            "{}: {}",
            service.code().unwrap_or("erreur de service"),
            service.message().unwrap_or("sans message")
        ),
        None => aws_sdk_s3::error::DisplayErrorContext(&err).to_string(),
    };
    StoreError::Aws { operation, message }
}

/// The three adapters of a Lambda function, from one SDK configuration built at start-up.
#[derive(Debug, Clone)]
pub struct AwsBackend {
    /// S3.
    pub objects: S3Objects,
    /// The state table.
    pub state: DynamoState,
    /// SNS.
    pub notifier: SnsNotifier,
}

impl AwsBackend {
    /// Loads the SDK configuration (see [`sdk_config`]) and builds the clients for `table`.
    pub async fn load(table: &str) -> Self {
        let config = sdk_config().await;
        Self {
            objects: S3Objects::new(s3_client(&config)),
            state: DynamoState::new(aws_sdk_dynamodb::Client::new(&config), table),
            notifier: SnsNotifier::new(aws_sdk_sns::Client::new(&config)),
        }
    }
}
