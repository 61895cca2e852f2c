//! Entry point: clients built once, then one `handle` per invocation.

use chrono::Utc;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use medistock_core::store::aws::{DynamoState, S3Objects, s3_client, sdk_config};
use risk::{Config, handle};
use serde_json::Value;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = Config::from_env(|name| std::env::var(name).ok())?;
    let sdk = sdk_config().await;
    let objects = S3Objects::new(s3_client(&sdk));
    let state = DynamoState::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        config.table_name.as_str(),
    );
    let (objects, state, config) = (&objects, &state, &config);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        handle(objects, state, config, event.payload, Utc::now())
            .await
            .map_err(Error::from)
    }))
    .await
}
