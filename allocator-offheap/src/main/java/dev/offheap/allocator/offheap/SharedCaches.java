package dev.offheap.allocator.offheap;

import java.util.Arrays;
import java.util.function.IntFunction;

/**
 * A bounded set of shared caches for virtual threads (and for all threads when thread caching is off), so
 * that 100,000 virtual threads do not make 100,000 caches. A thread starts at the stripe its id hashes to and
 * takes the first one whose lock it gets without waiting; when every stripe is busy the set grows, up to
 * {@code maxStripes} (twice the cores); past that it waits for its home stripe.
 *
 * <p>Thread-safe.
 */
final class SharedCaches {
    private final IntFunction<ThreadCache> factory;
    private final int maxStripes;
    private volatile ThreadCache[] stripes;

    SharedCaches(int maxStripes, IntFunction<ThreadCache> factory) {
        this.maxStripes = maxStripes;
        this.factory = factory;
        this.stripes = new ThreadCache[] {factory.apply(0)};
    }

    /** A locked shared cache; the caller must {@code cache.lock.unlock()} it. */
    ThreadCache acquire() {
        long threadId = Thread.currentThread().threadId();
        ThreadCache[] current = stripes;
        int home = home(threadId, current.length);
        for (int i = 0, at = home; i < current.length; i++, at = at + 1 == current.length ? 0 : at + 1) {
            ThreadCache cache = current[at];
            if (cache.lock.tryLock()) {
                cache.takenBy(threadId);
                return cache;
            }
        }
        ThreadCache cache = acquireContended(current, threadId);
        cache.takenBy(threadId);
        return cache;
    }

    /**
     * The thread's first stripe of {@code stripes}: its id hashed (Fibonacci), its top 32 bits scaled to the
     * count with a multiply and a shift, not a 64-bit division, which costs more than the rest of a pop.
     */
    static int home(long threadId, int stripes) {
        long hash = (threadId * 0x9E3779B97F4A7C15L) >>> 32;
        return (int) ((hash * stripes) >>> 32);
    }

    private ThreadCache acquireContended(ThreadCache[] seen, long threadId) {
        synchronized (this) {
            ThreadCache[] current = stripes;
            if (current == seen && current.length < maxStripes) {
                ThreadCache[] grown = Arrays.copyOf(current, current.length + 1);
                grown[current.length] = factory.apply(current.length);
                stripes = grown;
                grown[current.length].lock.lock();
                return grown[current.length];
            }
        }
        ThreadCache[] now = stripes;
        ThreadCache cache = now[home(threadId, now.length)];
        cache.lock.lock();
        return cache;
    }

    /** Whether some shared cache is locked right now (racy; for tests). */
    boolean anyLocked() {
        for (ThreadCache shared : stripes) {
            if (shared.lock.isLocked()) {
                return true;
            }
        }
        return false;
    }

    /** Gives every shared cache's empty slabs back to {@code heap}, each under its lock. */
    void trim(GlobalHeap heap) {
        for (ThreadCache shared : stripes) {
            shared.lock.lock();
            try {
                heap.trimCache(shared, false);
            } finally {
                shared.lock.unlock();
            }
        }
    }
}
