//! Buckets as folders: `<root>/<bucket>/<key>`, metadata beside in `<root>/.meta/<bucket>/<key>.json`.
//! A versioned bucket (the inbox, like the S3 one) also keeps every version written, in
//! `<root>/.versions/<bucket>/<key>/<version>`: two processes dropping different files under
//! one name each ingest their own bytes.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use medistock_domain::store::{
    ObjectHead, ObjectStore, StoreError, StoredObject, check_key, lease_token,
};

/// Object storage in a folder.
#[derive(Debug, Clone)]
pub struct LocalObjects {
    root: PathBuf,
    versioned: Vec<String>,
}

impl LocalObjects {
    /// Buckets under `root`, none versioned.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            versioned: Vec::new(),
        }
    }

    /// Keeps every version of the objects written to `bucket`.
    pub fn with_versioning(mut self, bucket: &str) -> Self {
        self.versioned.push(bucket.to_owned());
        self
    }

    fn is_versioned(&self, bucket: &str) -> bool {
        self.versioned.iter().any(|b| b == bucket)
    }

    /// Drops the file at `source` as the object `key`, like [`ObjectStore::put`] of its bytes,
    /// copied by the file system instead of read into memory and written back (a national
    /// file is 170 MB): what `medistock ingest` does with the files it is given. A source that
    /// is not a regular file (a pipe, `/dev/stdin`) is read and put. Returns the version
    /// written in a versioned bucket. A `source` that cannot be looked at or opened (or, not
    /// a regular file, read) is [`StoreError::Io`] naming `source`, and writes nothing; a
    /// copy that fails half way names the temporary file, which is removed.
    pub async fn put_file(
        &self,
        bucket: &str,
        key: &str,
        source: &Path,
        metadata: &BTreeMap<String, String>,
    ) -> Result<Option<String>, StoreError> {
        // Looked at before it is opened: opening a pipe nobody writes to would wait for ever.
        if !std::fs::metadata(source).map_err(io(source))?.is_file() {
            let bytes = std::fs::read(source).map_err(io(source))?;
            return self
                .put(bucket, key, bytes, "application/octet-stream", metadata)
                .await;
        }
        // Opened first: a file that cannot be read writes nothing, and the file copied is
        // the one opened.
        let mut file = std::fs::File::open(source).map_err(io(source))?;
        self.store(bucket, key, metadata, |path| copy_atomic(&mut file, path))
    }

    /// Writes an object with `write` (which writes its bytes to a path, atomically): in a
    /// versioned bucket as a new read-only version, its metadata first, then linked as the
    /// current object; otherwise as the current object. The one path of [`ObjectStore::put`]
    /// and [`LocalObjects::put_file`]. A version whose bytes could not be written leaves no
    /// metadata behind.
    fn store(
        &self,
        bucket: &str,
        key: &str,
        metadata: &BTreeMap<String, String>,
        write: impl FnOnce(&Path) -> Result<(), StoreError>,
    ) -> Result<Option<String>, StoreError> {
        let version = self.is_versioned(bucket).then(lease_token);
        let path = self.path(bucket, key)?;
        match &version {
            Some(v) => {
                let bytes = self.version_path(bucket, key, v)?;
                let meta = bytes.with_extension("json");
                write_metadata(&meta, metadata)?;
                if let Err(e) = write(&bytes) {
                    let _ = std::fs::remove_file(&meta);
                    return Err(e);
                }
                read_only(&bytes)?;
                write_metadata(&self.meta_path(bucket, key)?, metadata)?;
                // The current object is the version just written: one file, two names.
                link_atomic(&bytes, &path)?;
            }
            None => {
                write_metadata(&self.meta_path(bucket, key)?, metadata)?;
                write(&path)?;
            }
        }
        Ok(version)
    }

    /// The file of one version of an object (versions are hex tokens this adapter made).
    fn version_path(&self, bucket: &str, key: &str, version: &str) -> Result<PathBuf, StoreError> {
        if version.is_empty() || !version.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StoreError::InvalidKey(format!("{key}?versionId={version}")));
        }
        check_key(bucket)?;
        check_key(key)?;
        Ok(self
            .root
            .join(".versions")
            .join(bucket)
            .join(key)
            .join(version))
    }

    /// The files of an object's bytes and metadata: its current version, or one version.
    fn files(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<Option<(PathBuf, PathBuf)>, StoreError> {
        match version {
            None => Ok(Some((
                self.path(bucket, key)?,
                self.meta_path(bucket, key)?,
            ))),
            Some(_) if !self.is_versioned(bucket) => Ok(None),
            Some(v) => {
                let path = self.version_path(bucket, key, v)?;
                let meta = path.with_extension("json");
                Ok(Some((path, meta)))
            }
        }
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
    replace_atomic(path, |to| to.write_all(bytes))
}

/// Copies the open file `from` (from where it stands: just opened, its start) to `path` as
/// [`write_atomic`] writes; on Linux the kernel copies the bytes (`copy_file_range`).
fn copy_atomic(from: &mut std::fs::File, path: &Path) -> Result<(), StoreError> {
    replace_atomic(path, |to| std::io::copy(from, to).map(|_| ()))
}

/// Writes `path` with `write` into a temporary file of the default permissions, then renames
/// it over `path`; a failed write removes the temporary file.
fn replace_atomic(
    path: &Path,
    write: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> Result<(), StoreError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    // A temporary name of its own per write: two writers of one key never share it. Short,
    // so that a long object name still fits the file system's limit.
    let tmp = path.with_file_name(format!(".tmp-{}", lease_token()));
    if let Err(e) = std::fs::File::create(&tmp).and_then(|mut to| write(&mut to)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(StoreError::Io {
            path: tmp,
            source: e,
        });
    }
    std::fs::rename(&tmp, path).map_err(io(path))
}

/// Gives `to` the bytes of `from` through a hard link and a rename, a copy where the file
/// system links nothing. Safe because an object's file is never written in place: every write
/// is a new file renamed over the old one, so two names of one file never see a change (and a
/// version's file is read-only, against an editor or a shell writing into the folder).
fn link_atomic(from: &Path, to: &Path) -> Result<(), StoreError> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let tmp = to.with_file_name(format!(".tmp-{}", lease_token()));
    if std::fs::hard_link(from, &tmp).is_err() {
        std::fs::copy(from, &tmp).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => StoreError::Io {
                path: from.to_owned(),
                source,
            },
            _ => StoreError::Io {
                path: tmp.clone(),
                source,
            },
        })?;
    }
    let renamed = std::fs::rename(&tmp, to).map_err(io(to));
    // Where `to` already was a name of the same file, the rename does nothing and leaves the
    // temporary name behind.
    match std::fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(StoreError::Io {
            path: tmp,
            source: e,
        }),
        _ => renamed,
    }
}

/// Makes a file read-only: an object's bytes never change once written.
fn read_only(path: &Path) -> Result<(), StoreError> {
    let mut permissions = std::fs::metadata(path).map_err(io(path))?.permissions();
    permissions.set_readonly(true);
    std::fs::set_permissions(path, permissions).map_err(io(path))
}

/// Writes an object's metadata to its file, or removes the old one where there is none.
fn write_metadata(meta_path: &Path, metadata: &BTreeMap<String, String>) -> Result<(), StoreError> {
    if metadata.is_empty() {
        return match std::fs::remove_file(meta_path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(StoreError::Io {
                path: meta_path.to_owned(),
                source: e,
            }),
            _ => Ok(()),
        };
    }
    let json = serde_json::to_vec(metadata).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    write_atomic(meta_path, &json)
}

/// An object's metadata, empty where it has no file.
fn read_metadata(meta_path: &Path) -> Result<BTreeMap<String, String>, StoreError> {
    match read_optional(meta_path)? {
        Some(json) => serde_json::from_slice(&json)
            .map_err(|e| StoreError::Corrupt(format!("{}: {e}", meta_path.display()))),
        None => Ok(BTreeMap::new()),
    }
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
    async fn head(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<Option<ObjectHead>, StoreError> {
        let Some((path, _)) = self.files(bucket, key, version)? else {
            return Ok(None);
        };
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => Ok(Some(ObjectHead {
                size: m.len(),
                version: version.map(str::to_owned),
                last_modified: m
                    .modified()
                    .map(DateTime::<Utc>::from)
                    .unwrap_or_else(|_| Utc::now()),
            })),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StoreError::Io { path, source }),
        }
    }

    async fn get_version(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<Option<StoredObject>, StoreError> {
        let Some((path, meta_path)) = self.files(bucket, key, version)? else {
            return Ok(None);
        };
        let Some(bytes) = read_optional(&path)? else {
            return Ok(None);
        };
        let metadata = read_metadata(&meta_path)?;
        Ok(Some(StoredObject { bytes, metadata }))
    }

    async fn put(
        &self,
        bucket: &str,
        key: &str,
        bytes: Vec<u8>,
        _content_type: &str,
        metadata: &BTreeMap<String, String>,
    ) -> Result<Option<String>, StoreError> {
        self.store(bucket, key, metadata, |path| write_atomic(path, &bytes))
    }

    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, StoreError> {
        check_key(bucket)?;
        let base = self.root.join(bucket);
        let mut keys = Vec::new();
        // The walk starts at the prefix's folder (`daily/as_of=…/` lists one day, not the lake).
        let folder = prefix
            .rsplit_once('/')
            .map(|(folder, _)| folder)
            .filter(|folder| check_key(folder).is_ok());
        let start = folder.map_or_else(|| base.clone(), |folder| base.join(folder));
        // A bucket that is not a folder is a broken store, not an empty one.
        match std::fs::metadata(&base) {
            Ok(meta) if meta.is_dir() => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(keys),
            Ok(_) => {
                return Err(StoreError::Io {
                    path: base,
                    source: std::io::Error::from(std::io::ErrorKind::NotADirectory),
                });
            }
            Err(source) => return Err(StoreError::Io { path: base, source }),
        }
        let mut stack = vec![start];
        while let Some(dir) = stack.pop() {
            let entries = match std::fs::read_dir(&dir) {
                Ok(entries) => entries,
                // No such folder below the bucket (or a file where the prefix names a
                // folder): nothing listed, as S3 lists nothing.
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
                    ) =>
                {
                    continue;
                }
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
        from_version: Option<&str>,
        to_bucket: &str,
        to_key: &str,
        metadata: Option<&BTreeMap<String, String>>,
    ) -> Result<(), StoreError> {
        let not_found = || StoreError::Io {
            path: self.root.join(from_bucket).join(from_key),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        };
        let Some((from, from_meta)) = self
            .files(from_bucket, from_key, from_version)?
            .filter(|(from, _)| from.is_file())
        else {
            return Err(not_found());
        };
        if self.is_versioned(to_bucket) {
            // A new version in a versioned bucket: the bytes go through `put`.
            let object = self
                .get_version(from_bucket, from_key, from_version)
                .await?
                .ok_or_else(not_found)?;
            let metadata = metadata.cloned().unwrap_or(object.metadata);
            self.put(to_bucket, to_key, object.bytes, "", &metadata)
                .await?;
            return Ok(());
        }
        let metadata = match metadata {
            Some(m) => m.clone(),
            None => read_metadata(&from_meta)?,
        };
        write_metadata(&self.meta_path(to_bucket, to_key)?, &metadata)?;
        link_atomic(&from, &self.path(to_bucket, to_key)?)
    }
}
