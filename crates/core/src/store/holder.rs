//! Who holds a refresh lease, and whether that process still exists.
//!
//! A process killed mid-refresh cannot delete its lease row, and waiting out the lease's
//! time-to-live (minutes) would stall every later refresh of that account. So a holder names
//! its process: `<pid namespace>:<pid>:<random>`. A waiter in the same pid namespace can see
//! that the process is gone (no `/proc/<pid>`, or a zombie) and take the lease over at once.
//! A holder from another namespace, or a platform without `/proc`, falls back to the TTL.

/// The holder name of one open store in this process.
pub(crate) fn new_holder() -> String {
    format!(
        "{}:{}:{}",
        pid_namespace().unwrap_or_default(),
        std::process::id(),
        uuid::Uuid::new_v4()
    )
}

/// True only when `holder` certainly names a process that no longer runs.
pub(crate) fn is_gone(holder: &str) -> bool {
    let mut parts = holder.splitn(3, ':');
    let (Some(namespace), Some(pid), Some(_)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    match pid_namespace() {
        Some(ours) if !ours.is_empty() && ours == namespace => !process_runs(pid),
        _ => false,
    }
}

fn pid_namespace() -> Option<String> {
    // `pid:[4026531836]`: the inode number names the namespace.
    let link = std::fs::read_link("/proc/self/ns/pid").ok()?;
    let link = link.to_string_lossy();
    let inode = link.strip_prefix("pid:[")?.strip_suffix(']')?;
    Some(inode.to_owned())
}

fn process_runs(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // `pid (comm) S ...`: comm may hold spaces and parentheses, the state follows the last ')'.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next());
    !matches!(state, Some("Z" | "X" | "x"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_not_gone() {
        assert!(!is_gone(&new_holder()));
    }

    #[test]
    fn a_reaped_child_is_gone() {
        let mut child = std::process::Command::new("true").spawn().expect("spawn");
        let pid = child.id();
        child.wait().expect("wait");
        let holder = format!("{}:{pid}:x", pid_namespace().expect("linux"));
        assert!(is_gone(&holder));
    }

    #[test]
    fn a_zombie_is_gone() {
        let mut child = std::process::Command::new("true").spawn().expect("spawn");
        let pid = child.id();
        // Not reaped yet: wait for it to exit and become a zombie.
        for _ in 0..200 {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            if stat.contains(") Z") {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let holder = format!("{}:{pid}:x", pid_namespace().expect("linux"));
        assert!(is_gone(&holder));
        child.wait().expect("wait");
    }

    #[test]
    fn unknown_shapes_and_other_namespaces_are_never_gone() {
        assert!(!is_gone("gone"));
        assert!(!is_gone("1:abc:def"));
        assert!(!is_gone(":999999999:x"));
        assert!(!is_gone("1:999999999:x"), "another namespace");
    }
}
