//! File-tree helpers shared by the layers that copy directories: the
//! cluster's data directories and the report's run folders. A leaf module:
//! it depends on nothing in the crate but the error type.

use std::os::unix::fs::chown;
use std::path::Path;

use crate::error::{Context, Result};

/// Copies a directory tree into `dst` (which must not exist yet), keeping
/// file modes and symlinks, and hands every entry to `owner` when given
/// (used when root runs the server as another user). Errors name the path.
pub fn copy_tree(src: &Path, dst: &Path, owner: Option<(u32, u32)>) -> Result<()> {
    std::fs::create_dir(dst).context(dst.display())?;
    let mode = std::fs::metadata(src).context(src.display())?.permissions();
    std::fs::set_permissions(dst, mode).context(dst.display())?;
    set_owner(dst, owner)?;
    for entry in std::fs::read_dir(src).context(src.display())? {
        let entry = entry.context(src.display())?;
        let from = entry.path();
        let to = dst.join(entry.file_name());
        let kind = entry.file_type().context(from.display())?;
        if kind.is_dir() {
            copy_tree(&from, &to, owner)?;
        } else if kind.is_symlink() {
            let target = std::fs::read_link(&from).context(from.display())?;
            std::os::unix::fs::symlink(target, &to).context(to.display())?;
        } else {
            std::fs::copy(&from, &to).context(to.display())?;
            set_owner(&to, owner)?;
        }
    }
    Ok(())
}

/// Changes the owner of one path when an owner is given.
pub fn set_owner(path: &Path, owner: Option<(u32, u32)>) -> Result<()> {
    if let Some((uid, gid)) = owner {
        chown(path, Some(uid), Some(gid)).context(path.display())?;
    }
    Ok(())
}

/// Renames `staging` to `dest` unless a complete copy (one holding
/// `PG_VERSION`) is there already, in which case `staging` is removed. A
/// `dest` without `PG_VERSION` is no copy of ours (renames are whole): it
/// is removed and the rename tried once more.
pub(crate) fn publish_dir(staging: &Path, dest: &Path) -> Result<()> {
    for _ in 0..2 {
        if std::fs::rename(staging, dest).is_ok() {
            return Ok(());
        }
        if dest.join("PG_VERSION").is_file() {
            let _ = std::fs::remove_dir_all(staging);
            return Ok(());
        }
        let _ = std::fs::remove_dir_all(dest);
    }
    std::fs::rename(staging, dest).context(dest.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_nested_files_and_symlinks() {
        let root = std::env::temp_dir().join(format!("hb-fsutil-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let src = root.join("src");
        std::fs::create_dir_all(src.join("a/b")).unwrap();
        std::fs::write(src.join("a/b/file.txt"), "bytes").unwrap();
        std::os::unix::fs::symlink("a/b/file.txt", src.join("link")).unwrap();
        let dst = root.join("dst");
        copy_tree(&src, &dst, None).unwrap();
        assert_eq!(
            std::fs::read_to_string(dst.join("a/b/file.txt")).unwrap(),
            "bytes"
        );
        assert_eq!(
            std::fs::read_link(dst.join("link")).unwrap(),
            Path::new("a/b/file.txt")
        );
        let err = copy_tree(&src, &dst, None).unwrap_err();
        assert!(
            err.to_string().contains(&dst.display().to_string()),
            "{err}"
        );
        std::fs::remove_dir_all(root).unwrap();
    }
}
