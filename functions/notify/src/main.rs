//! Entry point: clients built once, then one `handle` per stream batch.

use aws_lambda_events::event::dynamodb::Event;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use medistock_aws::AwsBackend;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let [table] =
        medistock_domain::env::required(|name| std::env::var(name).ok(), notify::ENV_VARS)?;
    let backend = AwsBackend::load(&table).await;
    let (state, notifier) = (&backend.state, &backend.notifier);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| async move {
        Ok::<_, Error>(notify::handle(state, notifier, event.payload).await)
    }))
    .await
}
