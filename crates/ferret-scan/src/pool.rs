//! The threads a scan runs its parallel work on.

/// rayon's global pool when it has the number of threads asked for, else a
/// pool of the scan's own. The rules were just loaded and compiled on the
/// global pool: its threads' allocator heaps hold memory already, where a
/// new pool's threads each begin a heap of their own in fresh pages (with
/// transparent huge pages, 2 MB at a time, each zeroed by the kernel).
pub(crate) enum Pool {
    Global,
    Own(rayon::ThreadPool),
}

impl Pool {
    /// A pool of `threads` threads (0: rayon's default, the global pool).
    pub(crate) fn new(threads: usize) -> Pool {
        if threads == 0 || threads == rayon::current_num_threads() {
            return Pool::Global;
        }
        Pool::Own(
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("building a thread pool only fails on zero-sized stacks"),
        )
    }

    /// Runs `op`, its parallel iterators on this pool's threads.
    pub(crate) fn install<R: Send>(&self, op: impl FnOnce() -> R + Send) -> R {
        match self {
            Pool::Global => op(),
            Pool::Own(pool) => pool.install(op),
        }
    }

    /// `rayon::join` on this pool.
    pub(crate) fn join<A, B, RA, RB>(&self, a: A, b: B) -> (RA, RB)
    where
        A: FnOnce() -> RA + Send,
        B: FnOnce() -> RB + Send,
        RA: Send,
        RB: Send,
    {
        match self {
            Pool::Global => rayon::join(a, b),
            Pool::Own(pool) => pool.join(a, b),
        }
    }

    /// `rayon::spawn` on this pool.
    pub(crate) fn spawn(&self, op: impl FnOnce() + Send + 'static) {
        match self {
            Pool::Global => rayon::spawn(op),
            Pool::Own(pool) => pool.spawn(op),
        }
    }
}
