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

#[cfg(test)]
mod tests {
    use medistock_analytics::catalogue::{MonitoringSettings, save_catalogue_object};
    use medistock_domain::Cip13;
    use medistock_local::LocalObjects;

    use super::*;

    fn catalogue(tension_days: f64) -> Catalogue {
        let mut c = Catalogue::default();
        c.settings.insert(
            Cip13::parse("3400949497294").unwrap(),
            MonitoringSettings {
                tension_days: Some(tension_days),
                ..Default::default()
            },
        );
        c
    }

    #[tokio::test]
    async fn the_last_catalogue_read_is_kept_when_the_lake_cannot_be_read() {
        let dir = tempfile::tempdir().unwrap();
        let objects = LocalObjects::new(dir.path());
        let broken_root = dir.path().join("pas-un-dossier");
        std::fs::write(&broken_root, b"").unwrap();
        let broken = LocalObjects::new(&broken_root);
        let cache = CatalogueCache::default();

        assert_eq!(
            cache.get(&objects, "lac", Duration::ZERO).await,
            None,
            "none imported"
        );
        save_catalogue_object(&objects, "lac", &catalogue(40.0))
            .await
            .unwrap();
        let first = cache.get(&objects, "lac", Duration::ZERO).await.unwrap();
        assert_eq!(*first, catalogue(40.0));

        // Within the TTL the copy held is used; past it, a new import is read.
        save_catalogue_object(&objects, "lac", &catalogue(45.0))
            .await
            .unwrap();
        let held = cache.get(&objects, "lac", CATALOGUE_TTL).await.unwrap();
        assert_eq!(*held, catalogue(40.0));
        let fresh = cache.get(&objects, "lac", Duration::ZERO).await.unwrap();
        assert_eq!(*fresh, catalogue(45.0));

        // A lake that cannot be read keeps the last good copy; with none, no catalogue.
        let kept = cache.get(&broken, "lac", Duration::ZERO).await.unwrap();
        assert_eq!(*kept, catalogue(45.0));
        let empty = CatalogueCache::default();
        assert_eq!(empty.get(&broken, "lac", Duration::ZERO).await, None);

        // A stored catalogue that does not decode is not used, and the good copy stays.
        let mut metadata = std::collections::BTreeMap::new();
        metadata.insert("x".to_owned(), "y".to_owned());
        medistock_domain::store::ObjectStore::put(
            &objects,
            "lac",
            medistock_analytics::catalogue::CATALOGUE_FILE,
            b"{pas du json".to_vec(),
            "application/json",
            &metadata,
        )
        .await
        .unwrap();
        let still = cache.get(&objects, "lac", Duration::ZERO).await.unwrap();
        assert_eq!(*still, catalogue(45.0));
    }
}
