//! Entry point: clients built once, then one `handle_event` per stream batch or schedule.

use chrono::Utc;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use medistock_aws::AwsBackend;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let [table] =
        medistock_domain::env::required(|name| std::env::var(name).ok(), notify::REQUIRED_VARS)?;
    let policy = notify::policy(|name| std::env::var(name).ok())?;
    let backend = AwsBackend::load(&table).await;
    let (state, notifier) = (&backend.state, &backend.notifier);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        notify::handle_event(state, notifier, policy, event.payload, Utc::now())
            .await
            .map_err(|e| Error::from(e.to_string()))
    }))
    .await
}
