//! The imported catalogue as one JSON file, so that every command and function reads the same
//! catalogue without parsing the BDPM again: `catalogue/catalogue.json` in the data directory
//! (local commands), and under the same key in the lake bucket (the Lambda functions).

use std::path::Path;

use super::CatalogueError;
use medistock_domain::store::ObjectStore;

use super::model::Catalogue;

/// Path of the catalogue inside a data directory.
pub const CATALOGUE_FILE: &str = medistock_domain::lake::CATALOGUE;

/// The folder of the catalogue in the lake (what the functions may list).
pub const CATALOGUE_PREFIX: &str = "catalogue/";

/// Largest catalogue read: the whole BDPM with ANSM's settings is about 20 MB of JSON.
pub const MAX_CATALOGUE_BYTES: u64 = 200_000_000;

/// Reads the catalogue kept in a folder (`<dir>/catalogue/catalogue.json`: a replayed folder,
/// or the lake folder of a data directory), if there is one.
pub fn load_catalogue(data_dir: &Path) -> Result<Option<Catalogue>, CatalogueError> {
    let path = data_dir.join(CATALOGUE_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(CatalogueError::Io { path, source }),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|source| CatalogueError::Stored { path, source })
}

/// Writes the catalogue to `bucket` under [`CATALOGUE_FILE`].
pub async fn save_catalogue_object<O: ObjectStore>(
    objects: &O,
    bucket: &str,
    catalogue: &Catalogue,
) -> Result<(), CatalogueError> {
    let json = serde_json::to_vec(catalogue).map_err(|source| CatalogueError::Stored {
        path: CATALOGUE_FILE.into(),
        source,
    })?;
    objects
        .put(
            bucket,
            CATALOGUE_FILE,
            json,
            "application/json",
            &Default::default(),
        )
        .await?;
    Ok(())
}

/// Reads the catalogue kept in `bucket`, if one was imported.
pub async fn load_catalogue_object<O: ObjectStore>(
    objects: &O,
    bucket: &str,
) -> Result<Option<Catalogue>, CatalogueError> {
    // Listed first: without read access to a missing key, S3 answers 403, not 404; a list
    // under `catalogue/` says absent without asking for it.
    let listed = objects.list(bucket, CATALOGUE_PREFIX).await?;
    if !listed.iter().any(|k| k == CATALOGUE_FILE) {
        return Ok(None);
    }
    match objects.head(bucket, CATALOGUE_FILE, None).await? {
        None => return Ok(None),
        Some(head) if head.size > MAX_CATALOGUE_BYTES => {
            return Err(CatalogueError::TooLarge(head.size));
        }
        Some(_) => {}
    }
    let Some(object) = objects.get(bucket, CATALOGUE_FILE).await? else {
        return Ok(None);
    };
    serde_json::from_slice(&object.bytes)
        .map(Some)
        .map_err(|source| CatalogueError::Stored {
            path: CATALOGUE_FILE.into(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::{MonitoringSettings, Presentation};
    use medistock_domain::Cip13;

    #[test]
    fn a_catalogue_is_read_back_from_its_folder() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load_catalogue(dir.path()).unwrap(), None);
        let cip = Cip13::parse("3400949497294").unwrap();
        let mut cat = Catalogue::default();
        cat.presentations.insert(
            cip,
            Presentation {
                cip13: cip,
                cis: "60002283".into(),
                label: "x".into(),
                marketed: true,
                shortage: None,
            },
        );
        cat.settings.insert(
            cip,
            MonitoringSettings {
                tension_days: Some(40.0),
                ..Default::default()
            },
        );
        let path = dir.path().join(CATALOGUE_FILE);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, serde_json::to_vec(&cat).unwrap()).unwrap();
        assert_eq!(load_catalogue(dir.path()).unwrap(), Some(cat));
    }
}
