//! Entry point: clients built once, then one `handle` per invocation.

use chrono::Utc;
use lambda_runtime::{Diagnostic, Error, LambdaEvent, service_fn};
use medistock_aws::AwsBackend;
use risk::{Config, handle};
use serde_json::Value;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = Config::from_env(|name| std::env::var(name).ok())?;
    let backend = AwsBackend::load(&config.table_name).await;
    let (objects, state, config) = (&backend.objects, &backend.state, &config);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        handle(objects, state, config, event.payload, Utc::now())
            .await
            .map_err(Diagnostic::from)
    }))
    .await
}
