//! An object store between the code under test and a real one: it records what is asked of
//! it, can refuse the writes under a prefix (a store down for one effect while the others
//! run), can read a version id the real store does not know as another (S3's `"null"`), can
//! give a bucket another name (a test's own bucket on a shared emulator), and can give every
//! object one modification time (two drops within one second, as S3's `Last-Modified` sees
//! them).

use std::collections::BTreeMap;
use std::ops::Deref;
use std::sync::Mutex;

use medistock_domain::store::{ObjectHead, ObjectStore, StoreError, StoredObject};

/// What was asked of the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `head`.
    Head,
    /// `get_version` (and `get`).
    Get,
    /// `put`.
    Put,
    /// `list`.
    List,
    /// `copy`.
    Copy,
}

/// Forwards to the store `inner` points to (a reference, or a box that owns it), recording
/// each call with its key (the destination of a copy, the prefix of a listing).
pub struct SpyObjects<P> {
    inner: P,
    refused: Option<&'static str>,
    alias: Option<(&'static str, Option<String>)>,
    bucket: Option<(&'static str, String)>,
    modified: Option<chrono::DateTime<chrono::Utc>>,
    calls: Mutex<Vec<(Op, String)>>,
}

impl<P> SpyObjects<P>
where
    P: Deref<Target: ObjectStore> + Send + Sync,
{
    /// Records the calls made to `inner`.
    pub fn new(inner: P) -> Self {
        Self {
            inner,
            refused: None,
            alias: None,
            bucket: None,
            modified: None,
            calls: Mutex::new(Vec::new()),
        }
    }

    /// Sends what is asked of bucket `alias` to bucket `bucket` of the real store.
    pub fn naming_bucket(mut self, alias: &'static str, bucket: String) -> Self {
        self.bucket = Some((alias, bucket));
        self
    }

    /// Gives every object `at` as its modification time in `head`.
    pub fn modified_at(mut self, at: chrono::DateTime<chrono::Utc>) -> Self {
        self.modified = Some(at);
        self
    }

    /// Fails every write (`put`, `copy`) of a key under `prefix`, without passing it on.
    pub fn refusing_writes_under(mut self, prefix: &'static str) -> Self {
        self.refused = Some(prefix);
        self
    }

    /// Reads the version id `alias` as `version` of the real store.
    pub fn reading_version_as(mut self, alias: &'static str, version: Option<String>) -> Self {
        self.alias = Some((alias, version));
        self
    }

    /// The keys of the calls of one kind, in order.
    pub fn calls(&self, op: Op) -> Vec<String> {
        self.lock()
            .iter()
            .filter(|(o, _)| *o == op)
            .map(|(_, key)| key.clone())
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(Op, String)>> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn record(&self, op: Op, key: &str) -> Result<(), StoreError> {
        self.lock().push((op, key.to_owned()));
        match self.refused {
            Some(prefix) if matches!(op, Op::Put | Op::Copy) && key.starts_with(prefix) => {
                Err(StoreError::Corrupt(format!("écriture refusée : {key}")))
            }
            _ => Ok(()),
        }
    }

    fn name<'b>(&'b self, bucket: &'b str) -> &'b str {
        match &self.bucket {
            Some((alias, real)) if bucket == *alias => real,
            _ => bucket,
        }
    }

    fn version<'v>(&'v self, version: Option<&'v str>) -> Option<&'v str> {
        match (&self.alias, version) {
            (Some((alias, real)), Some(v)) if v == *alias => real.as_deref(),
            _ => version,
        }
    }
}

impl<P> ObjectStore for SpyObjects<P>
where
    P: Deref<Target: ObjectStore> + Send + Sync,
{
    async fn head(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<Option<ObjectHead>, StoreError> {
        self.record(Op::Head, key)?;
        let head = self
            .inner
            .head(self.name(bucket), key, self.version(version))
            .await?;
        Ok(head.map(|mut head| {
            if let Some(at) = self.modified {
                head.last_modified = at;
            }
            head
        }))
    }

    async fn get_version(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<Option<StoredObject>, StoreError> {
        self.record(Op::Get, key)?;
        self.inner
            .get_version(self.name(bucket), key, self.version(version))
            .await
    }

    async fn put(
        &self,
        bucket: &str,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
        metadata: &BTreeMap<String, String>,
    ) -> Result<Option<String>, StoreError> {
        self.record(Op::Put, key)?;
        self.inner
            .put(self.name(bucket), key, bytes, content_type, metadata)
            .await
    }

    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.record(Op::List, prefix)?;
        self.inner.list(self.name(bucket), prefix).await
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
        self.record(Op::Copy, to_key)?;
        let from_version = self.version(from_version);
        self.inner
            .copy(
                self.name(from_bucket),
                from_key,
                from_version,
                self.name(to_bucket),
                to_key,
                metadata,
            )
            .await
    }
}
