package dev.offheap.allocator.offheap;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.ref.Cleaner;
import java.lang.ref.WeakReference;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * An allocator's life after creation: the periodic purge on the shared purger thread, the JMX registration, and
 * the release of its memory, either by {@link OffHeapAllocator#close()} or, for an allocator that became
 * unreachable without it, by a {@link Cleaner} (with a warning). Neither the purge task nor the cleaner's action
 * holds a strong reference to the allocator, so an abandoned allocator can be collected and released.
 */
final class Lifecycle {

    private static final Logger LOG = LoggerFactory.getLogger(OffHeapAllocator.class);

    /** Releases the memory of an allocator that became unreachable without {@code close()}. */
    private static final Cleaner CLEANER = Cleaner.create();
    /** One daemon thread runs every allocator's purge ticks. */
    private static final ScheduledExecutorService PURGER = Executors.newSingleThreadScheduledExecutor(task -> {
        Thread thread = new Thread(task, "offheap-purger");
        thread.setDaemon(true);
        return thread;
    });

    private final Release release;
    private final Cleaner.Cleanable cleanable;

    Lifecycle(OffHeapAllocator allocator, GlobalHeap heap, long decayMillis, AllocatorMBean mbean) {
        this.release = new Release(heap.name, heap.range, schedulePurge(heap, decayMillis), mbean);
        this.cleanable = CLEANER.register(allocator, release);
    }

    /** {@code close()}: releases now, without the cleaner's warning. Idempotent. */
    void closeExplicitly() {
        release.explicit = true;
        cleanable.clean();
    }

    /** {@code close()} with the release deferred: the purge and the MBean stop now, the memory stays. */
    void stop() {
        release.explicit = true;
        release.stop();
    }

    /** A purge every {@code decayMillis / 2} (at least 50 ms), or none if {@code decayMillis} is negative. */
    private static ScheduledFuture<?> schedulePurge(GlobalHeap heap, long decayMillis) {
        if (decayMillis < 0) {
            return null;
        }
        long tick = Math.max(50, decayMillis / 2);
        WeakReference<GlobalHeap> weak = new WeakReference<>(heap);
        return PURGER.scheduleWithFixedDelay(() -> {
            GlobalHeap live = weak.get();
            if (live != null) {
                try {
                    live.purge(false);
                } catch (RuntimeException e) {
                    // A purge lets allocations in between long walks, so a close() can come in between too: then
                    // the walk meets the closed range, and there is nothing left to purge.
                    if (live.memory.scope().isAlive()) {
                        LOG.error("OffHeapAllocator '{}': purge failed", live.name, e);
                    }
                }
            }
        }, tick, tick, TimeUnit.MILLISECONDS);
    }

    /** What {@code close()} and the cleaner do; holds no reference to the allocator. */
    private static final class Release implements Runnable {
        private final String name;
        private final MemorySource.Range range;
        private final ScheduledFuture<?> purgeTask;
        private final AllocatorMBean mbean;
        /** Set by {@code close()}; a release without it is the cleaner's, for an allocator never closed. */
        private volatile boolean explicit;
        private boolean unregistered;

        Release(String name, MemorySource.Range range, ScheduledFuture<?> purgeTask, AllocatorMBean mbean) {
            this.name = name;
            this.range = range;
            this.purgeTask = purgeTask;
            this.mbean = mbean;
        }

        /** Cancels the purge ticks and unregisters the MBean; idempotent. */
        synchronized void stop() {
            if (purgeTask != null) {
                purgeTask.cancel(false);
            }
            if (mbean != null && !unregistered) {
                unregistered = true;
                mbean.unregister();
            }
        }

        @Override
        public void run() {
            stop();
            if (!explicit) {
                LOG.warn("OffHeapAllocator '{}' became unreachable without close(); releasing its memory", name);
            }
            range.close();
        }
    }
}
