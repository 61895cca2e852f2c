//! The reference catalogue as the ingest function sees it: read from the lake
//! (`catalogue/catalogue.json`, written by `medistock catalogue import --lake`) and kept for a
//! few minutes across the invocations of a warm container, so that a new import reaches
//! declarants' receipts within minutes without reading megabytes of JSON for every file.

use std::sync::Arc;
use std::time::{Duration, Instant};

use medistock_analytics::catalogue::{Catalogue, load_catalogue_object};
use medistock_domain::store::ObjectStore;
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

    /// The catalogue of `lake`, `None` when none was imported. The catalogue only adds a
    /// warning to receipts, so it never stops a drop: when it cannot be read (storage failure,
    /// refused access, a stored one that does not decode or is too large), the last catalogue
    /// read is kept, or files are validated without one; the failure is logged as an error
    /// and the read is tried again at the next invocation.
    pub async fn get<O: ObjectStore>(
        &self,
        objects: &O,
        lake: &str,
        ttl: Duration,
    ) -> Option<Arc<Catalogue>> {
        let mut held = self.held.lock().await;
        if let Some((read_at, catalogue)) = held.as_ref()
            && read_at.elapsed() < ttl
        {
            return catalogue.clone();
        }
        match load_catalogue_object(objects, lake).await {
            Ok(found) => {
                if found.is_none() {
                    tracing::warn!(
                        lake,
                        "aucun catalogue dans le lac : validation sans catalogue"
                    );
                }
                let catalogue = found.map(Arc::new);
                *held = Some((Instant::now(), catalogue.clone()));
                catalogue
            }
            Err(e) => {
                let kept = held.as_ref().and_then(|(_, c)| c.clone());
                tracing::error!(
                    lake,
                    error = %e,
                    kept_previous = kept.is_some(),
                    "catalogue illisible : validation avec le dernier catalogue lu, ou sans"
                );
                kept
            }
        }
    }
}
