//! The local store: every blob a pull brought (manifests and modules), by
//! digest, in `<data-dir>/modules/sha256/<hex>`, so that a module pulled once
//! by digest is never asked of a registry again, and a job pinned to it does
//! not need the registry to run. Directories `0700`, files `0600`, like the
//! rest of the data dir (`drbook_core::private`).
//!
//! What is written was checked against its digest first; what is read is
//! checked again (a file changed on disk is not trusted, it is fetched
//! anew), so a blob from the store is as good as one from the registry.

use drbook_core::module::digest as sha256;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::OciError;

/// Blobs by digest, under one directory.
#[derive(Debug, Clone)]
pub struct LocalStore {
    dir: PathBuf,
}

impl LocalStore {
    /// The store in `<data_dir>/modules`.
    pub fn in_data_dir(data_dir: &Path) -> LocalStore {
        LocalStore {
            dir: data_dir.join("modules"),
        }
    }

    /// Where blob `digest` (`sha256:<hex>`) is kept.
    pub fn path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        self.dir.join("sha256").join(hex)
    }

    /// Blob `digest`, if it is here and still hashes to it.
    pub fn get(&self, digest: &str) -> Option<Vec<u8>> {
        let path = self.path(digest);
        let bytes = std::fs::read(&path).ok()?;
        if sha256(&bytes) == digest {
            Some(bytes)
        } else {
            tracing::warn!(
                path = %path.display(),
                digest,
                "a blob of the local module store no longer hashes to its name; fetching it again"
            );
            None
        }
    }

    /// Keeps `bytes` as blob `digest`, which they must hash to: written to a
    /// temporary file and renamed, so a reader never sees half a blob.
    pub fn put(&self, digest: &str, bytes: &[u8]) -> Result<(), OciError> {
        let actual = sha256(bytes);
        if actual != digest {
            return Err(OciError::DigestMismatch {
                what: "a blob about to be stored".into(),
                expected: digest.to_string(),
                actual,
            });
        }
        self.write(&self.path(digest), bytes)
    }

    /// Where the manifest digest tag `tag` of `repository` at `registry`
    /// last resolved to is recorded.
    fn tag_path(&self, registry: &str, repository: &str, tag: &str) -> PathBuf {
        self.dir
            .join("tags")
            .join(registry)
            .join(repository)
            .join(tag)
    }

    /// Records that the tag resolved to manifest `digest` (a pull or push
    /// by tag), for offline pulls by tag.
    pub fn put_tag(
        &self,
        registry: &str,
        repository: &str,
        tag: &str,
        digest: &str,
    ) -> Result<(), OciError> {
        self.write(&self.tag_path(registry, repository, tag), digest.as_bytes())
    }

    /// The manifest digest the tag last resolved to here, if it did.
    pub fn tag(&self, registry: &str, repository: &str, tag: &str) -> Option<String> {
        let text = std::fs::read_to_string(self.tag_path(registry, repository, tag)).ok()?;
        Some(text.trim().to_string()).filter(|d| d.starts_with("sha256:"))
    }

    /// Writes `path` (under the store) through a temporary file renamed over
    /// it, so a reader never sees half of it; directories `0700`.
    fn write(&self, path: &Path, bytes: &[u8]) -> Result<(), OciError> {
        let io = |source| OciError::Store {
            path: path.to_path_buf(),
            source,
        };
        // Each directory made `0700`, the store's own first.
        drbook_core::private::create_dir(&self.dir).map_err(io)?;
        let dir = path.parent().expect("a stored file has a directory");
        drbook_core::private::create_dir(dir).map_err(io)?;
        let mut temp = path.to_path_buf();
        temp.set_extension(format!("tmp{}", std::process::id()));
        let written = drbook_core::private::file_options()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&temp)
            .and_then(|mut file| file.write_all(bytes).and_then(|()| file.sync_all()))
            .and_then(|()| std::fs::rename(&temp, path));
        if written.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        written.map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blob_is_kept_by_digest_and_a_changed_one_is_not_served() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::in_data_dir(dir.path());
        let digest = sha256(b"module");
        assert_eq!(store.get(&digest), None);
        store.put(&digest, b"module").unwrap();
        assert_eq!(store.get(&digest).as_deref(), Some(&b"module"[..]));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&store.path(&digest)), 0o600);
            assert_eq!(mode(store.path(&digest).parent().unwrap()), 0o700);
            assert_eq!(mode(&dir.path().join("modules")), 0o700);
        }
        std::fs::write(store.path(&digest), b"changed").unwrap();
        assert_eq!(store.get(&digest), None, "a changed blob is not trusted");
        let err = store.put(&digest, b"other").unwrap_err().to_string();
        assert!(err.contains("does not hash to"), "{err}");
    }
}
