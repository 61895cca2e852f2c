//! The imported catalogue as one JSON file, so that every command and function reads the same
//! catalogue without parsing the BDPM again: `catalogue/catalogue.json` in the data directory
//! (local commands), and under the same key in the lake bucket (the Lambda functions).

use std::path::{Path, PathBuf};

use super::CatalogueError;
use medistock_domain::store::ObjectStore;

use super::model::Catalogue;

/// Path of the catalogue inside a data directory.
pub const CATALOGUE_FILE: &str = medistock_domain::lake::CATALOGUE;

/// Writes the catalogue into the data directory (atomically: a reader never sees half a file).
pub fn save_catalogue(data_dir: &Path, catalogue: &Catalogue) -> Result<PathBuf, CatalogueError> {
    let path = data_dir.join(CATALOGUE_FILE);
    let io = |source| CatalogueError::Io {
        path: path.clone(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let json = serde_json::to_vec(catalogue).map_err(|source| CatalogueError::Stored {
        path: path.clone(),
        source,
    })?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, json).map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(io)?;
    Ok(path)
}

/// Reads the catalogue of a data directory, if one was imported.
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
    fn round_trips_through_the_data_directory() {
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
        save_catalogue(dir.path(), &cat).unwrap();
        assert_eq!(load_catalogue(dir.path()).unwrap(), Some(cat));
    }
}
