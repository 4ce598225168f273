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
    /// Called on a thread of a rayon pool, always a pool of its own: the
    /// scan blocks its calling thread on channels, which must not take a
    /// thread from the pool the scan's work runs on.
    pub(crate) fn new(threads: usize) -> Pool {
        let in_a_pool = rayon::current_thread_index().is_some();
        if !in_a_pool && (threads == 0 || threads == rayon::current_num_threads()) {
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

#[cfg(test)]
mod tests {
    use super::Pool;

    #[test]
    fn the_global_pool_unless_called_on_a_pool_thread_or_asked_for_another_size() {
        assert!(matches!(Pool::new(0), Pool::Global));
        assert!(matches!(
            Pool::new(rayon::current_num_threads()),
            Pool::Global
        ));
        assert!(matches!(
            Pool::new(rayon::current_num_threads() + 1),
            Pool::Own(_)
        ));
        // On a worker of the global pool the scan would block one of the
        // threads its own work needs.
        let on_worker = rayon::scope(|_| matches!(Pool::new(0), Pool::Own(_)));
        assert!(on_worker);
        // Its own pool runs the work.
        let own = Pool::new(rayon::current_num_threads() + 1);
        assert_eq!(own.join(|| 1, || 2), (1, 2));
        assert_eq!(own.install(|| 3), 3);
    }
}
