//! Entry point: clients built once, then one `handle` per login.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use medistock_aws::AwsBackend;
use serde_json::Value;
use sftp_auth::{Config, diagnostic, handle};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = Config::from_env(|name| std::env::var(name).ok())?;
    let backend = AwsBackend::load(&config.table_name).await;
    let (state, config) = (&backend.state, &config);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        handle(state, config, event.payload)
            .await
            .map_err(diagnostic)
    }))
    .await
}
