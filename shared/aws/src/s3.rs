//! Object storage on S3.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    CompletedMultipartUpload, CompletedPart, MetadataDirective, TaggingDirective,
};
use chrono::{DateTime, Utc};

use crate::aws_error;
use medistock_domain::store::{ObjectHead, ObjectStore, StoreError, StoredObject};

/// Largest object a single `CopyObject` copies (S3's limit); larger ones are copied in parts.
pub const SINGLE_COPY_LIMIT: u64 = 5 * 1024 * 1024 * 1024;
/// Size of each part of a multipart copy (S3 allows 5 MiB to 5 GiB a part, 10,000 parts).
const COPY_PART_BYTES: u64 = 1024 * 1024 * 1024;

/// Object storage on S3.
#[derive(Debug, Clone)]
pub struct S3Objects {
    client: Client,
    single_copy_limit: u64,
    copy_part_bytes: u64,
}

impl S3Objects {
    /// Wraps a client built once at start-up.
    pub fn new(client: Client) -> Self {
        Self {
            client,
            single_copy_limit: SINGLE_COPY_LIMIT,
            copy_part_bytes: COPY_PART_BYTES,
        }
    }

    /// Copies objects above `limit` bytes in parts of `part` bytes (tests use small sizes to
    /// exercise the multipart path; S3 needs parts of 5 MiB at least but the last).
    pub fn with_multipart_copy(mut self, limit: u64, part: u64) -> Self {
        self.single_copy_limit = limit;
        self.copy_part_bytes = part.max(1);
        self
    }

    async fn copy_in_parts(
        &self,
        source: &str,
        size: u64,
        metadata: HashMap<String, String>,
        to_bucket: &str,
        to_key: &str,
    ) -> Result<(), StoreError> {
        let upload = self
            .client
            .create_multipart_upload()
            .bucket(to_bucket)
            .key(to_key)
            .set_metadata(Some(metadata))
            .send()
            .await
            .map_err(|e| aws_error("S3.CreateMultipartUpload", e))?;
        let upload_id = upload.upload_id().unwrap_or_default().to_owned();
        let result = self
            .copy_parts(source, size, to_bucket, to_key, &upload_id)
            .await;
        if result.is_err() {
            // Best effort: an abandoned upload is also removed by the bucket's lifecycle rule.
            let _ = self
                .client
                .abort_multipart_upload()
                .bucket(to_bucket)
                .key(to_key)
                .upload_id(&upload_id)
                .send()
                .await;
        }
        result
    }

    async fn copy_parts(
        &self,
        source: &str,
        size: u64,
        to_bucket: &str,
        to_key: &str,
        upload_id: &str,
    ) -> Result<(), StoreError> {
        let mut parts = Vec::new();
        let mut start = 0u64;
        let mut number = 1i32;
        while start < size {
            let end = (start + self.copy_part_bytes).min(size) - 1;
            let out = self
                .client
                .upload_part_copy()
                .bucket(to_bucket)
                .key(to_key)
                .upload_id(upload_id)
                .part_number(number)
                .copy_source(source)
                .copy_source_range(format!("bytes={start}-{end}"))
                .send()
                .await
                .map_err(|e| aws_error("S3.UploadPartCopy", e))?;
            let e_tag = out
                .copy_part_result()
                .and_then(|r| r.e_tag())
                .unwrap_or_default();
            parts.push(
                CompletedPart::builder()
                    .e_tag(e_tag)
                    .part_number(number)
                    .build(),
            );
            start = end + 1;
            number += 1;
        }
        self.client
            .complete_multipart_upload()
            .bucket(to_bucket)
            .key(to_key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| aws_error("S3.CompleteMultipartUpload", e))?;
        Ok(())
    }
}

fn chrono_time(t: Option<&aws_sdk_s3::primitives::DateTime>) -> DateTime<Utc> {
    t.and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
        .unwrap_or_else(Utc::now)
}

/// `CopySource` of one version (`bucket/key?versionId=…`), or of the current one.
fn versioned_copy_source(bucket: &str, key: &str, version: Option<&str>) -> String {
    let source = copy_source(bucket, key);
    match version {
        Some(v) => format!("{source}?versionId={}", percent_encode(v)),
        None => source,
    }
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
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
    async fn head(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<Option<ObjectHead>, StoreError> {
        match self
            .client
            .head_object()
            .bucket(bucket)
            .key(key)
            .set_version_id(version.map(str::to_owned))
            .send()
            .await
        {
            Ok(out) => Ok(Some(ObjectHead {
                size: out.content_length().unwrap_or(0).max(0) as u64,
                version: out.version_id().map(str::to_owned),
                last_modified: chrono_time(out.last_modified()),
            })),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) => Err(aws_error("S3.HeadObject", e)),
        }
    }

    async fn get_version(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<Option<StoredObject>, StoreError> {
        let out = match self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .set_version_id(version.map(str::to_owned))
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
    ) -> Result<Option<String>, StoreError> {
        let metadata: HashMap<String, String> = metadata
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let out = self
            .client
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(bytes))
            .content_type(content_type)
            .set_metadata(Some(metadata))
            .send()
            .await
            .map_err(|e| aws_error("S3.PutObject", e))?;
        Ok(out.version_id().map(str::to_owned))
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
        from_version: Option<&str>,
        to_bucket: &str,
        to_key: &str,
        metadata: Option<&BTreeMap<String, String>>,
    ) -> Result<(), StoreError> {
        let source = versioned_copy_source(from_bucket, from_key, from_version);
        let replaced: Option<HashMap<String, String>> =
            metadata.map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
        // One HEAD gives the size that picks the way to copy and, for a multipart copy (which
        // does not carry metadata over), the metadata.
        let head = self
            .client
            .head_object()
            .bucket(from_bucket)
            .key(from_key)
            .set_version_id(from_version.map(str::to_owned))
            .send()
            .await
            .map_err(|e| aws_error("S3.HeadObject", e))?;
        let size = head.content_length().unwrap_or(0).max(0) as u64;
        if size > self.single_copy_limit {
            let metadata = replaced
                .or_else(|| head.metadata().cloned())
                .unwrap_or_default();
            return self
                .copy_in_parts(&source, size, metadata, to_bucket, to_key)
                .await;
        }
        // Given metadata replace the source's, with a plain content type (S3 would reset it)
        // and without the source's tags (copying them would need tagging permissions the
        // functions do not have: the archive is tagged by nobody).
        let mut request = self
            .client
            .copy_object()
            .copy_source(source)
            .bucket(to_bucket)
            .key(to_key);
        if let Some(replaced) = replaced {
            request = request
                .metadata_directive(MetadataDirective::Replace)
                .set_metadata(Some(replaced))
                .content_type("application/octet-stream")
                .tagging_directive(TaggingDirective::Replace);
        }
        request
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
