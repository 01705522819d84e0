//! The git commit a watched folder is at, read from `.git` without running git.

use std::path::{Path, PathBuf};

/// The commit checked out in the git work tree containing `path`, if it is one.
///
/// Reads `HEAD`, follows a symbolic ref to a loose ref or `packed-refs`, and understands a
/// `.git` file pointing elsewhere (worktrees, submodules). Anything unreadable gives `None`:
/// the revision is information for status, never a reason to stop.
pub fn current_revision(path: &Path) -> Option<String> {
    let git_dir = find_git_dir(path)?;
    let head = std::fs::read_to_string(git_dir.join("HEAD")).ok()?;
    let head = head.trim();
    let Some(reference) = head.strip_prefix("ref: ") else {
        return is_sha(head).then(|| head.to_owned());
    };
    let common = common_dir(&git_dir);
    for dir in [&git_dir, &common] {
        if let Ok(sha) = std::fs::read_to_string(dir.join(reference)) {
            let sha = sha.trim();
            if is_sha(sha) {
                return Some(sha.to_owned());
            }
        }
    }
    let packed = std::fs::read_to_string(common.join("packed-refs")).ok()?;
    packed.lines().find_map(|line| {
        let (sha, name) = line.split_once(' ')?;
        (name == reference && is_sha(sha)).then(|| sha.to_owned())
    })
}

fn find_git_dir(path: &Path) -> Option<PathBuf> {
    let start = if path.is_dir() {
        path.to_owned()
    } else {
        path.parent()?.to_owned()
    };
    let start = start.canonicalize().ok()?;
    for dir in start.ancestors() {
        let dot_git = dir.join(".git");
        if dot_git.is_dir() {
            return Some(dot_git);
        }
        if let Ok(text) = std::fs::read_to_string(&dot_git) {
            let target = text.trim().strip_prefix("gitdir: ")?;
            return Some(dir.join(target));
        }
    }
    None
}

fn common_dir(git_dir: &Path) -> PathBuf {
    match std::fs::read_to_string(git_dir.join("commondir")) {
        Ok(text) => git_dir.join(text.trim()),
        Err(_) => git_dir.to_owned(),
    }
}

fn is_sha(text: &str) -> bool {
    matches!(text.len(), 40 | 64) && text.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn follows_head_to_a_loose_ref_and_to_packed_refs() {
        let dir = tempfile::tempdir().unwrap();
        let git = dir.path().join(".git");
        std::fs::create_dir_all(git.join("refs/heads")).unwrap();
        std::fs::write(git.join("HEAD"), "ref: refs/heads/main\n").unwrap();
        std::fs::create_dir_all(dir.path().join("schools")).unwrap();

        std::fs::write(
            git.join("packed-refs"),
            format!("# pack-refs\n{SHA} refs/heads/main\n"),
        )
        .unwrap();
        assert_eq!(
            current_revision(&dir.path().join("schools")).as_deref(),
            Some(SHA)
        );

        let newer = SHA.replace('0', "f");
        std::fs::write(git.join("refs/heads/main"), format!("{newer}\n")).unwrap();
        assert_eq!(current_revision(dir.path()), Some(newer));
    }

    #[test]
    fn a_folder_outside_git_has_no_revision() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(current_revision(dir.path()), None);
    }
}
