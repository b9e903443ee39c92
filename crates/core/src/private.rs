//! drbook's data directory holds secrets (webhooks' signing secrets, the
//! bodies of the requests that started jobs, journals): what drbook creates
//! there is its owner's only, directories `0700` and files `0600`, whatever
//! the umask, and what it finds wider is reported with the fix.

use std::io;
use std::path::Path;

/// Creates `dir` (and its missing parents) `0700`; warns if it exists and
/// others may read it.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        warn_if_open(dir);
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Creates the empty file `path` `0600` if it does not exist (a database
/// about to be opened: SQLite gives its journal files the same mode); warns
/// if it exists and others may read it.
pub fn create_file(path: &Path) -> io::Result<()> {
    let mut options = std::fs::File::options();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            warn_if_open(path);
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Options that create a file `0600` (a spool, say).
pub fn file_options() -> std::fs::OpenOptions {
    #[allow(unused_mut)]
    let mut options = std::fs::File::options();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

/// Warns when others than the owner may read or write `path`.
fn warn_if_open(path: &Path) {
    #[cfg(unix)]
    if let Ok(meta) = std::fs::metadata(path) {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            let fix = if meta.is_dir() { "700" } else { "600" };
            tracing::warn!(
                "{} is open to other users (mode {mode:o}) but holds drbook's secrets; run `chmod {fix} {}`",
                path.display(),
                path.display()
            );
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn what_is_created_is_the_owners_only() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a").join("b");
        create_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&root.path().join("a")), 0o700);
        let file = dir.join("jobs.db");
        create_file(&file).unwrap();
        assert_eq!(mode(&file), 0o600);
        std::fs::write(&file, b"kept").unwrap();
        create_file(&file).unwrap();
        assert_eq!(
            std::fs::read(&file).unwrap(),
            b"kept",
            "an existing file is kept"
        );
        let spool = dir.join("spool.jsonl");
        file_options()
            .append(true)
            .create(true)
            .open(&spool)
            .unwrap();
        assert_eq!(mode(&spool), 0o600);
    }
}
