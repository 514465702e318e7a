//! S3: the blob store (inputs, canonical XML, rejection reports) and the partner directory
//! document.

use crate::errors::classify;
use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;
use ecites_domain::CountryCode;
use ecites_exchange::partners::{Directory, Partner};
use ecites_exchange::{BlobStore, Error, Fetched, PartnerDirectory};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// The blob store on one S3 bucket (inputs may come from other buckets named in events).
#[derive(Clone, Debug)]
pub struct S3BlobStore {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3BlobStore {
    /// A blob store writing to `bucket`.
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        S3BlobStore {
            client,
            bucket: bucket.into(),
        }
    }
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn get(&self, bucket: &str, key: &str, max_bytes: u64) -> Result<Fetched, Error> {
        let output = match self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
        {
            Ok(output) => output,
            Err(error) => {
                if error.as_service_error().is_some_and(|e| e.is_no_such_key()) {
                    return Err(Error::NotFound(format!("s3://{bucket}/{key}")));
                }
                return Err(classify("s3:GetObject", error));
            }
        };
        // Refuse by the announced size first, so a huge object is never read into memory.
        let announced = output.content_length().unwrap_or(0).max(0) as u64;
        if announced > max_bytes {
            return Ok(Fetched::TooLarge { size: announced });
        }
        let bytes = output
            .body
            .collect()
            .await
            .map_err(|e| Error::transient("s3:GetObject body", e))?
            .into_bytes();
        if bytes.len() as u64 > max_bytes {
            return Ok(Fetched::TooLarge {
                size: bytes.len() as u64,
            });
        }
        Ok(Fetched::Bytes(bytes.to_vec()))
    }

    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), Error> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| classify("s3:PutObject", e))?;
        Ok(())
    }

    fn bucket(&self) -> &str {
        &self.bucket
    }
}

/// The directory indexed by country, shared between the cache and readers.
type PartnerIndex = Arc<BTreeMap<CountryCode, Partner>>;

/// The partner directory, read from a JSON document in S3 and cached for `ttl` (a warm Lambda
/// reads it once per `ttl`, not once per permit).
#[derive(Debug)]
pub struct S3PartnerDirectory {
    client: aws_sdk_s3::Client,
    bucket: String,
    key: String,
    ttl: Duration,
    cache: Mutex<Option<(Instant, PartnerIndex)>>,
}

impl S3PartnerDirectory {
    /// A directory read from `s3://bucket/key`, cached for `ttl`.
    pub fn new(
        client: aws_sdk_s3::Client,
        bucket: impl Into<String>,
        key: impl Into<String>,
        ttl: Duration,
    ) -> Self {
        S3PartnerDirectory {
            client,
            bucket: bucket.into(),
            key: key.into(),
            ttl,
            cache: Mutex::new(None),
        }
    }

    async fn load(&self) -> Result<PartnerIndex, Error> {
        let mut cache = self.cache.lock().await;
        if let Some((loaded, partners)) = cache.as_ref() {
            if loaded.elapsed() < self.ttl {
                return Ok(partners.clone());
            }
        }
        let output = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .send()
            .await
            // A missing directory is a deployment fault, not a fact about recipients: retry
            // (and reach the DLQ) rather than record every recipient as NO_PARTNER.
            .map_err(|e| {
                Error::transient(
                    "s3:GetObject partner directory",
                    aws_sdk_s3::error::DisplayErrorContext(e),
                )
            })?;
        let bytes = output
            .body
            .collect()
            .await
            .map_err(|e| Error::transient("s3:GetObject partner directory body", e))?
            .into_bytes();
        let directory = Directory::parse(&bytes).map_err(|e| {
            Error::transient(
                "partner directory",
                format!(
                    "s3://{}/{} is not a valid directory: {e}",
                    self.bucket, self.key
                ),
            )
        })?;
        let partners = Arc::new(directory.by_country());
        *cache = Some((Instant::now(), partners.clone()));
        Ok(partners)
    }
}

#[async_trait]
impl PartnerDirectory for S3PartnerDirectory {
    async fn partner(&self, country: CountryCode) -> Result<Option<Partner>, Error> {
        Ok(self.load().await?.get(&country).cloned())
    }
}
