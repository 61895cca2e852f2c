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

/// What a read of an object of the catalogue's folder found.
pub(crate) enum FolderObject {
    /// Not there.
    Absent,
    /// Larger than allowed: its size.
    TooLarge(u64),
    /// Its bytes.
    Bytes(Vec<u8>),
}

/// Reads `key` of the catalogue's folder in `bucket`, at most `max_bytes`: listed first
/// (without read access to a missing key, S3 answers 403, not 404; a list under `catalogue/`
/// says absent without asking for it), its size asked before it is read and checked again
/// after (an object replaced in between).
pub(crate) async fn read_folder_object<O: ObjectStore>(
    objects: &O,
    bucket: &str,
    key: &str,
    max_bytes: u64,
) -> Result<FolderObject, medistock_domain::store::StoreError> {
    let listed = objects.list(bucket, CATALOGUE_PREFIX).await?;
    if !listed.iter().any(|k| k == key) {
        return Ok(FolderObject::Absent);
    }
    match objects.head(bucket, key, None).await? {
        None => return Ok(FolderObject::Absent),
        Some(head) if head.size > max_bytes => return Ok(FolderObject::TooLarge(head.size)),
        Some(_) => {}
    }
    Ok(match objects.get(bucket, key).await? {
        None => FolderObject::Absent,
        Some(object) if object.bytes.len() as u64 > max_bytes => {
            FolderObject::TooLarge(object.bytes.len() as u64)
        }
        Some(object) => FolderObject::Bytes(object.bytes),
    })
}

/// Reads the catalogue kept in `bucket`, if one was imported.
pub async fn load_catalogue_object<O: ObjectStore>(
    objects: &O,
    bucket: &str,
) -> Result<Option<Catalogue>, CatalogueError> {
    let bytes =
        match read_folder_object(objects, bucket, CATALOGUE_FILE, MAX_CATALOGUE_BYTES).await? {
            FolderObject::Absent => return Ok(None),
            FolderObject::TooLarge(size) => return Err(CatalogueError::TooLarge(size)),
            FolderObject::Bytes(bytes) => bytes,
        };
    serde_json::from_slice(&bytes)
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
