//! Start-up checks that talk to the kernel: the memlock limit glommio's registered buffers
//! need, and io_uring support. Each failure is a loud, specific error naming the fix
//! (RUNTIME-NOTES pitfalls 3 and 8, §1.6).
//!
//! Unsafe lives here only for `getrlimit(2)` and `geteuid(2)`, plain syscalls on values we
//! own.

/// What glommio registers per shard: its `io_memory` with each of three rings.
const RINGS_PER_EXECUTOR: u64 = 3;
/// Slack for the rings themselves.
const MEMLOCK_SLACK_BYTES: u64 = 1 << 20;

/// Fails unless `RLIMIT_MEMLOCK` allows `shards` executors with `io_memory` bytes each.
/// Root (with CAP_IPC_LOCK) is exempt from the limit, so the check passes for it.
pub fn check_memlock(io_memory: usize, shards: usize) -> Result<(), String> {
    // SAFETY: geteuid takes no arguments and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if euid == 0 {
        return Ok(());
    }
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable rlimit for the duration of the call.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut limit) };
    if rc != 0 {
        return Err(format!(
            "getrlimit(RLIMIT_MEMLOCK) failed: {}",
            std::io::Error::last_os_error()
        ));
    }
    let need = RINGS_PER_EXECUTOR * io_memory as u64 * shards as u64 + MEMLOCK_SLACK_BYTES;
    if limit.rlim_cur != libc::RLIM_INFINITY && limit.rlim_cur < need {
        return Err(format!(
            "RLIMIT_MEMLOCK is {} bytes but {shards} shards with storage.io_memory_bytes = \
             {io_memory} need {need}: raise it (ulimit -l, or LimitMEMLOCK= in the systemd \
             unit), or lower storage.io_memory_bytes or the shard count",
            limit.rlim_cur
        ));
    }
    Ok(())
}

/// Fails unless the kernel provides io_uring with the operations the storage engine and the
/// network use.
pub fn check_io_uring() -> Result<(), String> {
    let ring = io_uring::IoUring::new(4).map_err(|e| {
        format!(
            "io_uring is not available ({e}): Shoal needs Linux 6.1 or later with io_uring \
             enabled (check sysctl kernel.io_uring_disabled and container seccomp profiles)"
        )
    })?;
    let mut probe = io_uring::Probe::new();
    ring.submitter()
        .register_probe(&mut probe)
        .map_err(|e| format!("io_uring probe failed ({e}): the kernel is too old"))?;
    use io_uring::opcode;
    let needed = [
        ("read", opcode::Read::CODE),
        ("write", opcode::Write::CODE),
        ("fsync", opcode::Fsync::CODE),
        ("accept", opcode::Accept::CODE),
        ("connect", opcode::Connect::CODE),
        ("recv", opcode::Recv::CODE),
        ("send", opcode::Send::CODE),
    ];
    let missing: Vec<&str> = needed
        .iter()
        .filter(|(_, code)| !probe.is_supported(*code))
        .map(|(name, _)| *name)
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "io_uring lacks operations {missing:?}: Shoal needs Linux 6.1 or later"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_machine_passes_the_start_up_checks() {
        check_io_uring().expect("io_uring works on the development and CI machines");
        check_memlock(1 << 20, 2).expect("the default settings fit");
    }
}
