//! Buckets as folders: `<root>/<bucket>/<key>`, metadata beside in `<root>/.meta/<bucket>/<key>.json`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::store::{ObjectStore, StoreError, StoredObject, check_key};

/// Object storage in a folder.
#[derive(Debug, Clone)]
pub struct LocalObjects {
    root: PathBuf,
}

impl LocalObjects {
    /// Buckets under `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The file of an object.
    pub fn path(&self, bucket: &str, key: &str) -> Result<PathBuf, StoreError> {
        check_key(bucket)?;
        check_key(key)?;
        Ok(self.root.join(bucket).join(key))
    }

    fn meta_path(&self, bucket: &str, key: &str) -> Result<PathBuf, StoreError> {
        check_key(key)?;
        Ok(self
            .root
            .join(".meta")
            .join(bucket)
            .join(format!("{key}.json")))
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Writes through a temporary file and a rename: a reader never sees half an object.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let tmp = path.with_file_name(format!(
        ".{}.tmp-{}",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, StoreError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(StoreError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

impl ObjectStore for LocalObjects {
    async fn size(&self, bucket: &str, key: &str) -> Result<Option<u64>, StoreError> {
        let path = self.path(bucket, key)?;
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => Ok(Some(m.len())),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StoreError::Io { path, source }),
        }
    }

    async fn get(&self, bucket: &str, key: &str) -> Result<Option<StoredObject>, StoreError> {
        let Some(bytes) = read_optional(&self.path(bucket, key)?)? else {
            return Ok(None);
        };
        let meta_path = self.meta_path(bucket, key)?;
        let metadata = match read_optional(&meta_path)? {
            Some(json) => serde_json::from_slice(&json)
                .map_err(|e| StoreError::Corrupt(format!("{}: {e}", meta_path.display())))?,
            None => BTreeMap::new(),
        };
        Ok(Some(StoredObject { bytes, metadata }))
    }

    async fn put(
        &self,
        bucket: &str,
        key: &str,
        bytes: Vec<u8>,
        _content_type: &str,
        metadata: &BTreeMap<String, String>,
    ) -> Result<(), StoreError> {
        let meta_path = self.meta_path(bucket, key)?;
        if metadata.is_empty() {
            match std::fs::remove_file(&meta_path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(StoreError::Io {
                        path: meta_path,
                        source: e,
                    });
                }
                _ => {}
            }
        } else {
            let json =
                serde_json::to_vec(metadata).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            write_atomic(&meta_path, &json)?;
        }
        write_atomic(&self.path(bucket, key)?, &bytes)
    }

    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, StoreError> {
        check_key(bucket)?;
        let base = self.root.join(bucket);
        let mut keys = Vec::new();
        let mut stack = vec![base.clone()];
        while let Some(dir) = stack.pop() {
            let entries = match std::fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => return Err(StoreError::Io { path: dir, source }),
            };
            for entry in entries {
                let entry = entry.map_err(io(&dir))?;
                let path = entry.path();
                let name = entry.file_name();
                if name.to_string_lossy().starts_with('.') {
                    continue;
                }
                if path.is_dir() {
                    stack.push(path);
                } else if let Ok(rel) = path.strip_prefix(&base) {
                    let key = rel
                        .components()
                        .map(|c| c.as_os_str().to_string_lossy())
                        .collect::<Vec<_>>()
                        .join("/");
                    if key.starts_with(prefix) {
                        keys.push(key);
                    }
                }
            }
        }
        keys.sort();
        Ok(keys)
    }

    async fn copy(
        &self,
        from_bucket: &str,
        from_key: &str,
        to_bucket: &str,
        to_key: &str,
    ) -> Result<(), StoreError> {
        let object = self
            .get(from_bucket, from_key)
            .await?
            .ok_or_else(|| StoreError::Io {
                path: self.root.join(from_bucket).join(from_key),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            })?;
        self.put(to_bucket, to_key, object.bytes, "", &object.metadata)
            .await
    }
}
