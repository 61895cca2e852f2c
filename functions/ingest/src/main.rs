//! Entry point: clients built once, then one `handle` per event (S3's, or the retry queue's).

use chrono::{DateTime, Utc};
use ingest::{CatalogueCache, Config, HandlerError, handle, invocation};
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
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            let deadline = DateTime::<Utc>::from_timestamp_millis(event.context.deadline as i64)
                .unwrap_or_else(Utc::now);
            // A file dropped (S3's event), or an event given up on, delivered again by the
            // retry queue.
            let dropped = invocation(event.payload)
                .map_err(|e| Diagnostic::from(HandlerError::from(e)))?
                .into_event();
            handle(
                objects,
                state,
                config,
                catalogue,
                dropped,
                Utc::now(),
                deadline,
            )
            .await
            .map_err(Diagnostic::from)
        },
    ))
    .await
}
