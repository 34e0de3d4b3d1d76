package dev.offheap.allocator.offheap;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.ref.Cleaner;
import java.lang.ref.WeakReference;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

import static dev.offheap.allocator.internal.Checks.hex;

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

    private final String name;
    private final Release release;
    private final Cleaner.Cleanable cleanable;
    /** Who hands out raw addresses of the allocator's blocks; see {@link RawAddressHolder}. */
    private final List<RawAddressHolder> rawAddressHolders = new CopyOnWriteArrayList<>();
    /** close() found raw addresses held: the memory stays mapped until {@link #releaseIfDeferred} (heap lock). */
    private boolean releaseDeferred;

    Lifecycle(OffHeapAllocator allocator, GlobalHeap heap, long decayMillis, AllocatorMBean mbean) {
        this.name = heap.name;
        this.release = new Release(heap.name, heap.range, schedulePurge(heap, decayMillis), mbean);
        this.cleanable = CLEANER.register(allocator, release);
    }

    /** The log lines at creation: the configuration, what the cap counts, how much of a region is used. */
    static void logCreated(OffHeapAllocatorConfig config, GlobalHeap heap) {
        long base = heap.memory.address();
        String range = switch (config.memorySource()) {
            case MemorySource.Reserved ignored -> "reserved " + heap.rangeBytes + " bytes of address space at "
                    + hex(base) + "; the cap, maxBytes " + heap.maxBytes + ", counts committed pages";
            case MemorySource.ArenaBacked ignored -> "an arena of " + heap.rangeBytes + " bytes at " + hex(base);
            case MemorySource.Region region -> "uses " + heap.rangeBytes + " of the region's "
                    + region.region().byteSize() + " bytes, at " + hex(base) + " (" + (base - region.region().address())
                    + " bytes in, to the first 64 KiB boundary; whole 64 KiB pages, at most maxBytes)";
        };
        LOG.info("OffHeapAllocator '{}' created: {}; {}", heap.name, config, range);
        if (config.memorySource() instanceof MemorySource.ArenaBacked) {
            LOG.warn("OffHeapAllocator '{}' over an Arena: all {} bytes are committed (zeroed) now and stay resident"
                    + " until close(); MemorySource.reserved() commits only what is used and gives it back", heap.name,
                    heap.rangeBytes);
        }
    }

    void addRawAddressHolder(RawAddressHolder holder) {
        rawAddressHolders.add(Objects.requireNonNull(holder, "holder"));
    }

    /**
     * {@code close()}, the allocator marked closed, heap lock held: releases the memory now, or, while a
     * {@link RawAddressHolder} holds raw addresses, stops the purge and the MBean and leaves the
     * memory mapped until {@link #releaseIfDeferred}.
     */
    void closeOrDefer() {
        if (rawAddressesHeld()) {
            releaseDeferred = true;
            release.explicit = true;
            release.stop();
            LOG.warn("OffHeapAllocator '{}' closed while code that bypasses its bounds checks (Netty's Unsafe"
                    + " buffers, native I/O) still holds raw addresses of its blocks: its memory stays mapped until"
                    + " they are released, so that a late access reads stale memory instead of crashing the JVM."
                    + " Release every buffer before close()", name);
            return;
        }
        closeExplicitly();
        LOG.info("OffHeapAllocator '{}' closed", name);
    }

    /** Heap lock held: a deferred release happens now if no holder holds raw addresses any more. */
    void releaseIfDeferred() {
        if (!releaseDeferred || rawAddressesHeld()) {
            return;
        }
        releaseDeferred = false;
        closeExplicitly();
        LOG.info("OffHeapAllocator '{}' released its memory: the last raw address was given back after close()",
                name);
    }

    private boolean rawAddressesHeld() {
        for (RawAddressHolder holder : rawAddressHolders) {
            if (holder.holdsRawAddresses()) {
                return true;
            }
        }
        return false;
    }

    /** Releases now, without the cleaner's warning. Idempotent. */
    private void closeExplicitly() {
        release.explicit = true;
        cleanable.clean();
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
