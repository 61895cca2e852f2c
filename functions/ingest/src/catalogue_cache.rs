//! The reference catalogue as the ingest function sees it: read from the lake
//! (`catalogue/catalogue.json`, written by `medistock catalogue import --lake`) and kept for a
//! few minutes across the invocations of a warm container, so that a new import reaches
//! declarants' receipts within minutes without reading megabytes of JSON for every file.

use std::sync::Arc;
use std::time::{Duration, Instant};

use medistock_analytics::catalogue::{Catalogue, CatalogueError, load_catalogue_object};
use medistock_domain::store::{ObjectStore, StoreError};
use tokio::sync::Mutex;

/// How long a catalogue read from the lake is used before it is read again.
pub const CATALOGUE_TTL: Duration = Duration::from_secs(300);

/// The catalogue last read, and when.
#[derive(Debug, Default)]
pub struct CatalogueCache {
    held: Mutex<Option<(Instant, Option<Arc<Catalogue>>)>>,
}

impl CatalogueCache {
    /// A cache that already holds `catalogue`, read now (tests, and a catalogue known at start).
    pub fn holding(catalogue: Option<Arc<Catalogue>>) -> Self {
        Self {
            held: Mutex::new(Some((Instant::now(), catalogue))),
        }
    }

    /// The catalogue of `lake`: `None` when none was imported, or when the one stored cannot
    /// be decoded (logged: files are then validated without the `hors_catalogue` warning
    /// rather than refused). A storage failure is an error: the invocation is retried.
    pub async fn get<O: ObjectStore>(
        &self,
        objects: &O,
        lake: &str,
        ttl: Duration,
    ) -> Result<Option<Arc<Catalogue>>, StoreError> {
        let mut held = self.held.lock().await;
        if let Some((read_at, catalogue)) = held.as_ref()
            && read_at.elapsed() < ttl
        {
            return Ok(catalogue.clone());
        }
        let catalogue = match load_catalogue_object(objects, lake).await {
            Ok(Some(catalogue)) => Some(Arc::new(catalogue)),
            Ok(None) => {
                tracing::warn!(
                    lake,
                    "aucun catalogue dans le lac : validation sans catalogue"
                );
                None
            }
            Err(CatalogueError::Store(e)) => return Err(e),
            Err(e) => {
                tracing::error!(lake, error = %e, "catalogue illisible : validation sans catalogue");
                None
            }
        };
        *held = Some((Instant::now(), catalogue.clone()));
        Ok(catalogue)
    }
}
