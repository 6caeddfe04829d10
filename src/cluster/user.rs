//! The operating-system identity the embedded server runs as. PostgreSQL
//! refuses to run as root, so root either starts it in a user namespace (root
//! outside, the `postgres` or `nobody` uid inside), or, where namespaces are
//! not allowed, switches the child to that user with `uid`/`gid`.

use std::ffi::CString;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use nix::libc;
use nix::unistd::{Uid, User};

use crate::error::{Error, Result};

/// Who runs `initdb` and `postgres`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerUser {
    /// Not root: run as ourselves.
    Current,
    /// Root, in a new user namespace that maps this uid and gid to root
    /// outside: files stay root's, so any root-reachable directory works.
    Namespace { uid: u32, gid: u32 },
    /// Root without user namespaces: switch to this uid and gid in the child.
    Switch { uid: u32, gid: u32 },
}

impl ServerUser {
    /// Picks the server identity for this process (probed once).
    pub fn pick() -> Result<ServerUser> {
        static PICKED: OnceLock<Option<ServerUser>> = OnceLock::new();
        PICKED.get_or_init(probe).ok_or(Error::NoUnprivilegedUser)
    }

    /// The owner to give files the server must write, if it differs from ours.
    pub fn owner(&self) -> Option<(u32, u32)> {
        match *self {
            ServerUser::Switch { uid, gid } => Some((uid, gid)),
            _ => None,
        }
    }

    /// Makes a command run as this identity.
    pub fn apply(&self, cmd: &mut Command) {
        match *self {
            ServerUser::Current => {}
            // The standard library drops root's supplementary groups here.
            ServerUser::Switch { uid, gid } => {
                cmd.uid(uid).gid(gid);
            }
            ServerUser::Namespace { uid, gid } => {
                let maps = NamespaceMaps::new(uid, gid);
                // SAFETY: the closure only makes async-signal-safe system calls
                // (unshare, open, write, close) on buffers prepared before fork.
                unsafe {
                    cmd.pre_exec(move || maps.enter());
                }
            }
        }
    }
}

fn probe() -> Option<ServerUser> {
    if !Uid::effective().is_root() {
        return Some(ServerUser::Current);
    }
    let (uid, gid) = ["postgres", "nobody"].iter().find_map(|name| {
        User::from_name(name)
            .ok()
            .flatten()
            .map(|u| (u.uid.as_raw(), u.gid.as_raw()))
    })?;
    let ns = ServerUser::Namespace { uid, gid };
    let mut cmd = Command::new("/bin/true");
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    ns.apply(&mut cmd);
    match cmd.status() {
        Ok(s) if s.success() => Some(ns),
        _ => Some(ServerUser::Switch { uid, gid }),
    }
}

/// The `/proc/self/*_map` contents for a one-uid namespace, prepared before
/// fork so the child allocates nothing.
struct NamespaceMaps {
    uid_map: CString,
    gid_map: CString,
}

impl NamespaceMaps {
    fn new(uid: u32, gid: u32) -> Self {
        let outer_uid = Uid::effective().as_raw();
        let outer_gid = nix::unistd::Gid::effective().as_raw();
        NamespaceMaps {
            uid_map: CString::new(format!("{uid} {outer_uid} 1\n")).unwrap_or_default(),
            gid_map: CString::new(format!("{gid} {outer_gid} 1\n")).unwrap_or_default(),
        }
    }

    /// Runs in the forked child: enter a new user namespace and map ids.
    fn enter(&self) -> std::io::Result<()> {
        // SAFETY: plain system calls on valid NUL-terminated buffers.
        unsafe {
            if libc::unshare(libc::CLONE_NEWUSER) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            write_proc(c"/proc/self/setgroups", c"deny")?;
            write_proc(c"/proc/self/uid_map", &self.uid_map)?;
            write_proc(c"/proc/self/gid_map", &self.gid_map)?;
        }
        Ok(())
    }
}

/// Writes a whole buffer to a /proc file with raw system calls.
unsafe fn write_proc(path: &std::ffi::CStr, data: &std::ffi::CStr) -> std::io::Result<()> {
    let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let bytes = data.to_bytes();
    let n = libc::write(fd, bytes.as_ptr().cast(), bytes.len());
    libc::close(fd);
    if n != bytes.len() as isize {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
