//! A hint to the CPU to bring a cache line in before it is needed.
//!
//! Recovery moves millions of ops into the tree in key order, which is not the order
//! their keys were allocated in: without the hint, each key costs the tree a cache miss.
//!
//! Unsafe lives here only for the prefetch instruction, which does not access memory.

/// Asks the CPU to bring the cache line at `p` into its caches. Never faults, whatever `p`
/// is; a no-op where the target has no such instruction here.
pub fn prefetch<T>(p: *const T) {
    // SAFETY: SSE, which the instruction needs, is part of every x86_64 CPU; a prefetch
    // only hints the cache and does not access memory (no fault, whatever the address).
    #[cfg(target_arch = "x86_64")]
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast())
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
