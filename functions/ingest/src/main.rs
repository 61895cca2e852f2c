//! Entry point: clients built once, then one `handle` per event.

use aws_lambda_events::event::s3::S3Event;
use chrono::{DateTime, Utc};
use ingest::{CatalogueCache, Config, handle};
use lambda_runtime::{Diagnostic, Error, LambdaEvent, service_fn};
use medistock_aws::AwsBackend;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = Config::from_env(|name| std::env::var(name).ok())?;
    let backend = AwsBackend::load(&config.table_name).await;
    let catalogue = CatalogueCache::default();
    let (objects, state, config, catalogue) =
        (&backend.objects, &backend.state, &config, &catalogue);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<S3Event>| async move {
        let deadline = DateTime::<Utc>::from_timestamp_millis(event.context.deadline as i64)
            .unwrap_or_else(Utc::now);
        handle(
            objects,
            state,
            config,
            catalogue,
            event.payload,
            Utc::now(),
            deadline,
        )
        .await
        .map_err(Diagnostic::from)
    }))
    .await
}
