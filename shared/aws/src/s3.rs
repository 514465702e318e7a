//! S3: the blob store (inputs, canonical XML, rejection reports) and the partner directory
//! document.

use crate::errors::classify;
use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;
use ecites_domain::Checklist;
use ecites_domain::CountryCode;
use ecites_exchange::directory::{Agency, Directory, DirectoryError, Partner, PartnerDirectory};
use ecites_exchange::{BlobStore, Error, Fetched, SpeciesChecklist};
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
    async fn get(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        max_bytes: u64,
    ) -> Result<Fetched, Error> {
        let output = match self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .set_version_id(version_id.map(str::to_owned))
            .send()
            .await
        {
            Ok(output) => output,
            Err(error) => {
                // A deleted version answers NoSuchVersion (404), which the SDK does not model.
                let missing_version = version_id.is_some()
                    && error.as_service_error().and_then(|e| e.meta().code())
                        == Some("NoSuchVersion");
                if missing_version || error.as_service_error().is_some_and(|e| e.is_no_such_key()) {
                    let version = version_id
                        .map(|v| format!(" version {v}"))
                        .unwrap_or_default();
                    return Err(Error::NotFound(format!("s3://{bucket}/{key}{version}")));
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

    async fn delete(&self, key: &str) -> Result<(), Error> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| classify("s3:DeleteObject", e))?;
        Ok(())
    }

    fn bucket(&self) -> &str {
        &self.bucket
    }
}

/// The partner directory document (`config/partners.json` in the deployment's bucket), the one
/// loader every function uses: fetched from S3 and parsed once per `ttl` (a warm Lambda reads
/// it once per `ttl`, not once per permit), then served to ingest's recipient lookup, forward's
/// endpoint lookup and receive's key lookup ([`PartnerDirectory`]) from the same cached
/// [`Directory`].
#[derive(Debug)]
pub struct S3PartnerDirectory(CachedObject<Arc<Directory>>);

impl S3PartnerDirectory {
    /// A directory read from `s3://bucket/key`, cached for `ttl`.
    pub fn new(
        client: aws_sdk_s3::Client,
        bucket: impl Into<String>,
        key: impl Into<String>,
        ttl: Duration,
    ) -> Self {
        S3PartnerDirectory(CachedObject::new(client, bucket.into(), key.into(), ttl))
    }

    /// The whole directory, from the cache while it is younger than `ttl`.
    pub async fn directory(&self) -> Result<Arc<Directory>, Error> {
        self.0
            .get(|client, bucket, key| async move {
                Ok(Arc::new(read_directory(client, bucket, key).await?))
            })
            .await
    }
}

/// A document of the deployment's bucket that a warm function loads once per `ttl`, then
/// serves from memory (the partner directory, the CITES checklist).
#[derive(Debug)]
struct CachedObject<T> {
    client: aws_sdk_s3::Client,
    bucket: String,
    key: String,
    ttl: Duration,
    cache: Mutex<Option<(Instant, T)>>,
}

impl<T: Clone> CachedObject<T> {
    fn new(client: aws_sdk_s3::Client, bucket: String, key: String, ttl: Duration) -> Self {
        CachedObject {
            client,
            bucket,
            key,
            ttl,
            cache: Mutex::new(None),
        }
    }

    /// The value, from the cache while it is younger than `ttl`, else loaded by `load` (which
    /// is given the client, bucket and key). A failed load leaves the cache as it was.
    async fn get<'a, F, Fut>(&'a self, load: F) -> Result<T, Error>
    where
        F: FnOnce(&'a aws_sdk_s3::Client, &'a str, &'a str) -> Fut,
        Fut: std::future::Future<Output = Result<T, Error>>,
    {
        let mut cache = self.cache.lock().await;
        if let Some((loaded, value)) = cache.as_ref() {
            if loaded.elapsed() < self.ttl {
                return Ok(value.clone());
            }
        }
        let value = load(&self.client, &self.bucket, &self.key).await?;
        *cache = Some((Instant::now(), value.clone()));
        Ok(value)
    }
}

#[async_trait]
impl PartnerDirectory for S3PartnerDirectory {
    async fn partner(&self, country: CountryCode) -> Result<Option<Partner>, Error> {
        Ok(self.directory().await?.get(country).cloned())
    }

    async fn agency(&self, id: &str) -> Result<Option<Agency>, Error> {
        Ok(self.directory().await?.agency(id).cloned())
    }
}

/// The most bytes a compact checklist may have (a full Species+ export compacts to a few MB).
pub const MAX_CHECKLIST_BYTES: u64 = 64 * 1024 * 1024;

/// The deployment's CITES checklist, read from `s3://bucket/config/species.json` (written by
/// `ecites species import`) once per `ttl` and shared by every permit of a warm function. No
/// object: no checklist, and the `listing` tier is skipped.
#[derive(Debug)]
pub struct S3SpeciesChecklist(CachedObject<Option<Arc<Checklist>>>);

impl S3SpeciesChecklist {
    /// The checklist at `s3://bucket/key`, cached for `ttl`.
    pub fn new(
        client: aws_sdk_s3::Client,
        bucket: impl Into<String>,
        key: impl Into<String>,
        ttl: Duration,
    ) -> Self {
        S3SpeciesChecklist(CachedObject::new(client, bucket.into(), key.into(), ttl))
    }

    /// The deployment's checklist: `s3://bucket/config/species.json`
    /// ([`ecites_exchange::keys::SPECIES_CHECKLIST_KEY`]), cached for `ttl`.
    pub fn for_deployment(
        client: aws_sdk_s3::Client,
        bucket: impl Into<String>,
        ttl: Duration,
    ) -> Self {
        Self::new(
            client,
            bucket,
            ecites_exchange::keys::SPECIES_CHECKLIST_KEY,
            ttl,
        )
    }
}

#[async_trait]
impl SpeciesChecklist for S3SpeciesChecklist {
    async fn checklist(&self) -> Result<Option<Arc<Checklist>>, Error> {
        self.0
            .get(|client, bucket, key| async move {
                let store = S3BlobStore::new(client.clone(), bucket);
                match store.get(bucket, key, None, MAX_CHECKLIST_BYTES).await {
                    Ok(Fetched::Bytes(bytes)) => {
                        let checklist = Checklist::from_compact(&bytes).map_err(|e| {
                            Error::transient("species checklist", format!("s3://{bucket}/{key}: {e}"))
                        })?;
                        tracing::info!(taxa = checklist.len(), date = %checklist.date, "CITES checklist loaded");
                        Ok(Some(Arc::new(checklist)))
                    }
                    Ok(Fetched::TooLarge { size }) => Err(Error::transient(
                        "species checklist",
                        format!("s3://{bucket}/{key} is {size} bytes, over {MAX_CHECKLIST_BYTES}"),
                    )),
                    Err(Error::NotFound(_)) => Ok(None),
                    Err(error) => Err(error),
                }
            })
            .await
    }
}

/// Fetches and parses the directory document, uncached (the cache above, and
/// `ecites partners`). Every failure is transient: a missing or broken directory is a
/// deployment fault, not a fact about recipients, so the caller retries (and reaches the DLQ)
/// rather than record every recipient as NO_PARTNER.
pub async fn read_directory(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<Directory, Error> {
    match read_directory_version(client, bucket, key).await? {
        Some((directory, _)) => Ok(directory),
        None => Err(Error::transient(
            "s3:GetObject partner directory",
            format!("NoSuchKey: s3://{bucket}/{key} does not exist"),
        )),
    }
}

/// The directory with the ETag it was read at, or `None` when the document does not exist.
async fn read_directory_version(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<Option<(Directory, String)>, Error> {
    let output = match client.get_object().bucket(bucket).key(key).send().await {
        Ok(output) => output,
        Err(error) if error.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
            return Ok(None)
        }
        Err(error) => {
            return Err(Error::transient(
                "s3:GetObject partner directory",
                crate::errors::error_chain(&error),
            ))
        }
    };
    let etag = output.e_tag().unwrap_or_default().to_owned();
    let bytes = output
        .body
        .collect()
        .await
        .map_err(|e| Error::transient("s3:GetObject partner directory body", e))?
        .into_bytes();
    let directory = Directory::parse(&bytes).map_err(|e| {
        Error::transient(
            "partner directory",
            format!("s3://{bucket}/{key} is not a valid directory: {e}"),
        )
    })?;
    Ok(Some((directory, etag)))
}

/// What [`edit_directory`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum DirectoryEdit<T> {
    /// The edit was applied and saved; its result.
    Saved(T),
    /// The edit refused (nothing written), with the reason for the operator.
    Refused(DirectoryError),
}

/// How often [`edit_directory`] re-reads and re-applies an edit that lost a race.
const EDIT_ATTEMPTS: usize = 5;

/// Reads the directory (empty when it does not exist yet), applies `edit`, and writes the
/// result only if nobody changed the document meanwhile: an S3 conditional write on the ETag
/// read (`If-Match`), or `If-None-Match: *` when creating it. On a concurrent change it reads
/// again and re-applies the edit, so two operators editing at once both land instead of the
/// later one silently undoing the earlier.
pub async fn edit_directory<T>(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    mut edit: impl FnMut(&mut Directory) -> Result<T, DirectoryError>,
) -> Result<DirectoryEdit<T>, Error> {
    for _ in 0..EDIT_ATTEMPTS {
        let (mut directory, etag) = match read_directory_version(client, bucket, key).await? {
            Some((directory, etag)) => (directory, Some(etag)),
            None => (Directory::default(), None),
        };
        let outcome = match edit(&mut directory) {
            Ok(outcome) => outcome,
            Err(why) => return Ok(DirectoryEdit::Refused(why)),
        };
        let body = serde_json::to_vec_pretty(&directory)
            .map_err(|e| Error::permanent("serialize partner directory", e))?;
        let request = client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type("application/json")
            .body(body.into());
        let request = match etag {
            Some(etag) => request.if_match(etag),
            None => request.if_none_match("*"),
        };
        match request.send().await {
            Ok(_) => return Ok(DirectoryEdit::Saved(outcome)),
            Err(error) if lost_the_race(&error) => continue,
            Err(error) => return Err(classify("s3:PutObject partner directory", error)),
        }
    }
    Err(Error::transient(
        "s3:PutObject partner directory",
        format!(
            "s3://{bucket}/{key} kept changing under {EDIT_ATTEMPTS} attempts to edit it; \
             nothing was written, run the command again"
        ),
    ))
}

/// Whether a conditional write failed because the object changed (412) or another
/// conditional write to it was in flight (409): both mean "read again and retry".
fn lost_the_race<R>(
    error: &aws_sdk_s3::error::SdkError<aws_sdk_s3::operation::put_object::PutObjectError, R>,
) -> bool {
    use aws_sdk_s3::error::ProvideErrorMetadata;
    error.as_service_error().is_some_and(|e| {
        matches!(
            e.code(),
            Some("PreconditionFailed") | Some("ConditionalRequestConflict")
        )
    })
}

/// Writes the directory document unconditionally (tests and set-up; operators' edits go
/// through [`edit_directory`]).
pub async fn write_directory(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    directory: &Directory,
) -> Result<(), Error> {
    let body = serde_json::to_vec_pretty(directory)
        .map_err(|e| Error::permanent("serialize partner directory", e))?;
    client
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_type("application/json")
        .body(body.into())
        .send()
        .await
        .map_err(|e| classify("s3:PutObject", e))?;
    Ok(())
}
