//! Object storage on S3.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;

use super::aws_error;
use crate::store::{ObjectStore, StoreError, StoredObject};

/// Object storage on S3.
#[derive(Debug, Clone)]
pub struct S3Objects {
    client: Client,
}

impl S3Objects {
    /// Wraps a client built once at start-up.
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

/// `CopySource` is `bucket/key` with the key URL-encoded (spaces and accents included).
fn copy_source(bucket: &str, key: &str) -> String {
    let mut out = format!("{bucket}/");
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl ObjectStore for S3Objects {
    async fn size(&self, bucket: &str, key: &str) -> Result<Option<u64>, StoreError> {
        match self
            .client
            .head_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => Ok(Some(out.content_length().unwrap_or(0).max(0) as u64)),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) => Err(aws_error("S3.HeadObject", e)),
        }
    }

    async fn get(&self, bucket: &str, key: &str) -> Result<Option<StoredObject>, StoreError> {
        let out = match self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            Err(e) => return Err(aws_error("S3.GetObject", e)),
        };
        let metadata: BTreeMap<String, String> = out
            .metadata()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| StoreError::Aws {
                operation: "S3.GetObject",
                message: e.to_string(),
            })?
            .into_bytes()
            .to_vec();
        Ok(Some(StoredObject { bytes, metadata }))
    }

    async fn put(
        &self,
        bucket: &str,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
        metadata: &BTreeMap<String, String>,
    ) -> Result<(), StoreError> {
        let metadata: HashMap<String, String> = metadata
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        self.client
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(bytes))
            .content_type(content_type)
            .set_metadata(Some(metadata))
            .send()
            .await
            .map_err(|e| aws_error("S3.PutObject", e))?;
        Ok(())
    }

    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        let mut keys = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws_error("S3.ListObjectsV2", e))?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned)),
            );
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
        self.client
            .copy_object()
            .copy_source(copy_source(from_bucket, from_key))
            .bucket(to_bucket)
            .key(to_key)
            .send()
            .await
            .map_err(|e| aws_error("S3.CopyObject", e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn copy_source_encodes_the_key() {
        assert_eq!(
            super::copy_source("b", "inbox/a1/dépôt 1+2.csv"),
            "b/inbox/a1/d%C3%A9p%C3%B4t%201%2B2.csv"
        );
    }
}
