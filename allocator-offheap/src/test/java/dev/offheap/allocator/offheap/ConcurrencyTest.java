package dev.offheap.allocator.offheap;

import dev.offheap.allocator.AllocatorStats;
import dev.offheap.allocator.OffHeapOutOfMemoryException;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Many threads at once: blocks changing hands between threads (remote frees), threads that die with blocks
 * still out, and virtual threads by the hundred thousand. Every block carries a cookie that is checked when it
 * is freed, so a block handed out twice, or overwritten by the allocator, fails the test.
 */
class ConcurrencyTest {

    /** The cookie of a block: its address and size mixed, in the first and (from 16 bytes) the last 8 bytes. */
    private static long cookie(long address, long size) {
        return (address * 0x9E3779B97F4A7C15L) ^ size;
    }

    private static void stamp(OffHeapAllocator allocator, long address, long size) {
        MemorySegment block = allocator.segment(address);
        block.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, cookie(address, size));
        if (size >= 16) {
            block.set(ValueLayout.JAVA_LONG_UNALIGNED, size - 8, cookie(address, size));
        }
    }

    private static void check(OffHeapAllocator allocator, long address, long size) {
        MemorySegment block = allocator.segment(address);
        long expected = cookie(address, size);
        if (block.get(ValueLayout.JAVA_LONG_UNALIGNED, 0) != expected
                || size >= 16 && block.get(ValueLayout.JAVA_LONG_UNALIGNED, size - 8) != expected) {
            throw new AssertionError("block " + Long.toHexString(address) + " of " + size + " bytes was corrupted");
        }
    }

    /**
     * Larson's handover, oversubscribed: 8 lanes of 1,000 blocks (8-1000 B, 4 MB live in all) on however few cores,
     * each lane's thread handing its blocks to a new thread and ending after 20,000 replacements, for 2 s at a
     * 256 MiB cap. Dead threads' caches must be reclaimed as fast as threads die: before, 4 MB of live blocks
     * filled the cap with dead caches' empty slabs and allocations were refused (3 runs of 3).
     */
    @Test
    void threadsDyingFasterThanThePurgeTicksNeverFillTheCap() throws Exception {
        try (OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("churn")
                .maxBytes(256L << 20))) {
            int lanes = 8;
            long deadline = System.nanoTime() + 2_000_000_000L;
            AtomicReference<Throwable> failure = new AtomicReference<>();
            CountDownLatch finished = new CountDownLatch(lanes);
            for (int t = 0; t < lanes; t++) {
                long[] slots = new long[1000];
                SplittableRandom random = new SplittableRandom(t);
                for (int i = 0; i < slots.length; i++) {
                    slots[i] = allocator.allocate(random.nextLong(8, 1000));
                }
                Thread.ofPlatform().start(() -> churnLane(allocator, slots, random, deadline, failure, finished));
            }
            assertTrue(finished.await(60, TimeUnit.SECONDS), "lanes still running after 60 s");
            assertNull(failure.get(), () -> "a lane failed: " + failure.get());
            assertEquals(0, allocator.stats().liveBlocks());
            allocator.verify();
        }
    }

    private static void churnLane(OffHeapAllocator allocator, long[] slots, SplittableRandom random, long deadline,
                                  AtomicReference<Throwable> failure, CountDownLatch finished) {
        try {
            for (int i = 0; i < 20_000; i++) {
                int slot = random.nextInt(slots.length);
                allocator.free(slots[slot]);
                slots[slot] = allocator.allocate(random.nextLong(8, 1000));
            }
        } catch (Throwable e) {
            failure.compareAndSet(null, e);
            finished.countDown();
            return;
        }
        if (System.nanoTime() >= deadline || failure.get() != null) {
            for (long block : slots) {
                allocator.free(block);
            }
            finished.countDown();
            return;
        }
        Thread.ofPlatform().start(() -> churnLane(allocator, slots, random, deadline, failure, finished));
    }

    /**
     * Slots other threads freed are reused while the thread's own holes are still on hand: taken only once no
     * slab of its own frees was left, they piled up in slabs the owner never went back to.
     */
    @Test
    void aRefillReusesWhatAnotherThreadFreedWithoutWaitingForItsOwnHolesToRunOut() throws Exception {
        try (OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("collect-due")
                .maxBytes(64L << 20).decayMillis(-1))) {
            int slots = 64; // 1 KiB blocks, a 64 KiB slab
            long[] blocks = new long[3 * slots];
            for (int i = 0; i < blocks.length; i++) {
                blocks[i] = allocator.allocate(1024); // slabs X, Y, then the current one, all full
            }
            for (int i = 0; i < 10; i++) {
                allocator.free(blocks[i]); // holes of its own in X: X is available
            }
            Thread other = Thread.ofPlatform().start(() -> {
                for (int i = slots; i < 2 * slots; i++) {
                    allocator.free(blocks[i]); // all of Y, from another thread
                }
            });
            other.join();
            long next = allocator.allocate(1024); // the current slab is full: a refill
            long yLow = Long.MAX_VALUE;
            long yHigh = 0;
            for (int i = slots; i < 2 * slots; i++) {
                yLow = Math.min(yLow, blocks[i]);
                yHigh = Math.max(yHigh, blocks[i]);
            }
            assertTrue(next >= yLow && next <= yHigh, "the refill went past the slab another thread emptied");
            allocator.free(next);
            for (int i = 10; i < slots; i++) {
                allocator.free(blocks[i]);
            }
            for (int i = 2 * slots; i < blocks.length; i++) {
                allocator.free(blocks[i]);
            }
            allocator.verify();
        }
    }

    /**
     * The purge hands back pages inside medium chunks without the heap lock while other threads allocate, free
     * and resize medium blocks there: no live block may lose a byte. Every 4 KiB of every block carries its
     * cookie (a page handed back while live would read zero), and trim() runs non-stop
     * (handing back free space by the OS page too: the chunks' edges).
     */
    @Test
    void mediumBlocksKeepTheirContentsWhileTrimsHandBackFreePages() throws Exception {
        int threads = 2;
        int slots = 64;
        int rounds = 4_000;
        // Not in try-with-resources: if a bug damaged the heap, a thread may loop under the heap lock, and close()
        // would wait for it forever; the test fails on its deadline instead (the threads are daemons).
        OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("medium-trims")
                .maxBytes(1L << 30).decayMillis(-1));
        AtomicReferenceArray<long[]> shared = new AtomicReferenceArray<>(slots);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        CountDownLatch done = new CountDownLatch(threads);
        for (int t = 0; t < threads; t++) {
            int seed = 100 + t;
            Thread.ofPlatform().daemon().start(() -> {
                try {
                    SplittableRandom random = new SplittableRandom(seed);
                    for (int i = 0; i < rounds && failure.get() == null; i++) {
                        long size = random.nextLong(64 * 1024 + 1, (1 << 20) + 1);
                        long address = allocator.allocate(size);
                        if (random.nextInt(4) == 0) {
                            address = allocator.reallocate(address, random.nextLong(64 * 1024 + 1, (1 << 20) + 1));
                            size = allocator.usableSize(address);
                        }
                        stampEveryPage(allocator, address, size);
                        long[] old = shared.getAndSet(random.nextInt(slots), new long[] {address, size});
                        if (old != null) {
                            checkEveryPage(allocator, old[0], old[1]);
                            allocator.free(old[0]);
                        }
                    }
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                } finally {
                    done.countDown();
                }
            });
        }
        AtomicLong purged = new AtomicLong();
        Thread trims = Thread.ofPlatform().daemon().start(() -> {
            while (done.getCount() > 0) {
                purged.addAndGet(allocator.trim());
            }
        });
        assertTrue(done.await(60, TimeUnit.SECONDS), "the threads did not finish: a damaged heap loops");
        trims.join();
        if (failure.get() != null) {
            throw new AssertionError("a thread failed", failure.get());
        }
        allocator.verify();
        for (int i = 0; i < slots; i++) {
            long[] old = shared.getAndSet(i, null);
            if (old != null) {
                checkEveryPage(allocator, old[0], old[1]);
                allocator.free(old[0]);
            }
        }
        assertTrue(purged.get() > 0, "no trim handed anything back");
        allocator.close();
    }

    /**
     * Medium blocks take the medium lock and then the heap lock for pages; the purge takes them one at a time and
     * holds buddy blocks out while it madvises; at the cap, allocations wait for those and try the medium lock.
     * Small, medium and huge allocations that keep hitting a tight cap, with trims non-stop, must neither
     * deadlock nor lose a block.
     */
    @Test
    void allocationsAtTheCapAndTrimsNeverDeadlock() throws Exception {
        int threads = 3;
        // Daemons and no try-with-resources: a deadlocked heap could not be closed; the deadline fails the test.
        OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("cap-trims")
                .maxBytes(24L << 20).decayMillis(-1));
        AtomicReference<Throwable> failure = new AtomicReference<>();
        CountDownLatch done = new CountDownLatch(threads);
        AtomicLong refused = new AtomicLong();
        for (int t = 0; t < threads; t++) {
            int seed = 200 + t;
            Thread.ofPlatform().daemon().start(() -> {
                try {
                    SplittableRandom random = new SplittableRandom(seed);
                    long[] held = new long[64];
                    long[] sizes = new long[64];
                    for (int i = 0; i < 20_000 && failure.get() == null; i++) {
                        int slot = random.nextInt(held.length);
                        if (held[slot] != 0) {
                            checkEveryPage(allocator, held[slot], sizes[slot]);
                            allocator.free(held[slot]);
                            held[slot] = 0;
                        }
                        int kind = random.nextInt(10);
                        long size = kind < 5 ? random.nextLong(16, 4096) : kind < 9
                                ? random.nextLong(64 * 1024 + 1, (1 << 20) + 1) : random.nextLong((1 << 20) + 1, 3 << 20);
                        try {
                            held[slot] = allocator.allocate(size);
                            sizes[slot] = size;
                            stampEveryPage(allocator, held[slot], size);
                        } catch (OffHeapOutOfMemoryException full) {
                            refused.incrementAndGet();
                        }
                    }
                    for (int slot = 0; slot < held.length; slot++) {
                        if (held[slot] != 0) {
                            checkEveryPage(allocator, held[slot], sizes[slot]);
                            allocator.free(held[slot]);
                        }
                    }
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                } finally {
                    done.countDown();
                }
            });
        }
        Thread trims = Thread.ofPlatform().daemon().start(() -> {
            while (done.getCount() > 0) {
                allocator.trim();
                allocator.stats();
            }
        });
        assertTrue(done.await(60, TimeUnit.SECONDS), "the threads did not finish: a deadlock");
        trims.join();
        if (failure.get() != null) {
            throw new AssertionError("a thread failed", failure.get());
        }
        assertTrue(refused.get() > 0, "the cap was never reached");
        allocator.verify();
        assertEquals(0, allocator.stats().liveBlocks());
        allocator.close();
    }

    private static void stampEveryPage(OffHeapAllocator allocator, long address, long size) {
        MemorySegment block = allocator.segment(address);
        for (long at = 0; at + 8 <= size; at += 4096) {
            block.set(ValueLayout.JAVA_LONG_UNALIGNED, at, cookie(address, at));
        }
    }

    private static void checkEveryPage(OffHeapAllocator allocator, long address, long size) {
        MemorySegment block = allocator.segment(address);
        for (long at = 0; at + 8 <= size; at += 4096) {
            if (block.get(ValueLayout.JAVA_LONG_UNALIGNED, at) != cookie(address, at)) {
                throw new AssertionError("block " + Long.toHexString(address) + " of " + size + " bytes lost its"
                        + " contents at offset " + at);
            }
        }
    }

    /** 8 B to 1 MiB, most of them small: the shape of mimalloc-bench's mstress. */
    private static long randomSize(SplittableRandom random) {
        int dice = random.nextInt(100);
        if (dice < 80) {
            return random.nextLong(8, 257);
        }
        if (dice < 97) {
            return random.nextLong(257, 32 * 1024 + 1);
        }
        return random.nextLong(32 * 1024 + 1, (1 << 20) + 1);
    }

    @Test
    void blocksThatChangeHandsAreNeverCorrupted() throws Exception {
        int threads = 4;
        int slots = 4096;
        int rounds = 150_000;
        try (OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("mstress")
                .maxBytes(1L << 30))) {
            // Each slot holds {address, size} or null; exchanging it moves the block to another thread.
            AtomicReferenceArray<long[]> shared = new AtomicReferenceArray<>(slots);
            AtomicReference<Throwable> failure = new AtomicReference<>();
            AtomicLong checked = new AtomicLong();
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            CountDownLatch done = new CountDownLatch(threads);
            for (int t = 0; t < threads; t++) {
                int seed = t;
                pool.execute(() -> {
                    try {
                        SplittableRandom random = new SplittableRandom(seed);
                        for (int i = 0; i < rounds && failure.get() == null; i++) {
                            long size = randomSize(random);
                            long address = allocator.allocate(size);
                            stamp(allocator, address, size);
                            long[] old = shared.getAndSet(random.nextInt(slots), new long[] {address, size});
                            if (old != null) {
                                check(allocator, old[0], old[1]);
                                allocator.free(old[0]);
                                checked.incrementAndGet();
                            }
                        }
                    } catch (Throwable e) {
                        failure.compareAndSet(null, e);
                    } finally {
                        done.countDown();
                    }
                });
            }
            assertTrue(done.await(120, TimeUnit.SECONDS), "stress did not finish");
            pool.shutdown();
            if (failure.get() != null) {
                throw new AssertionError("a thread failed", failure.get());
            }
            for (int i = 0; i < slots; i++) {
                long[] old = shared.getAndSet(i, null);
                if (old != null) {
                    check(allocator, old[0], old[1]);
                    allocator.free(old[0]);
                }
            }
            assertTrue(checked.get() > threads * (long) rounds / 2, "too few blocks changed hands");
            allocator.trim();
            AllocatorStats stats = allocator.stats();
            assertEquals(0, stats.liveBlocks(), "blocks left live: " + stats);
            assertEquals(0, stats.allocatedBytes());
        }
    }

    @Test
    void producerConsumerRemoteFreesAreAllReclaimed() throws Exception {
        try (OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("xmalloc")
                .maxBytes(256L << 20))) {
            BlockingQueue<long[]> batches = new ArrayBlockingQueue<>(4);
            int batchCount = 200;
            AtomicReference<Throwable> failure = new AtomicReference<>();
            Thread consumer = Thread.ofPlatform().start(() -> {
                try {
                    for (int b = 0; b < batchCount; b++) {
                        for (long address : batches.take()) {
                            check(allocator, address, 64);
                            allocator.free(address);
                        }
                    }
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
            });
            for (int b = 0; b < batchCount; b++) {
                long[] batch = new long[4096];
                for (int i = 0; i < batch.length; i++) {
                    batch[i] = allocator.allocate(64);
                    stamp(allocator, batch[i], 64);
                }
                batches.put(batch);
            }
            consumer.join(60_000);
            if (failure.get() != null) {
                throw new AssertionError("the consumer failed", failure.get());
            }
            AllocatorStats stats = allocator.stats();
            assertEquals(0, stats.liveBlocks());
            // Producer's slabs get the consumer's frees back: memory stays near one batch, not 200 of them.
            long oneBatch = 4096L * 64;
            assertTrue(stats.committedBytes() < 40 * oneBatch, "committed " + stats.committedBytes()
                    + " bytes for batches of " + oneBatch);
        }
    }

    @Test
    void aNewThreadTakesADeadThreadsPartlyUsedSlabsBeforeTheHeapGrows() throws Exception {
        // No purger: only the refill's own reclaim can hand the dead thread's slabs over.
        try (OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("handover")
                .maxBytes(256L << 20).decayMillis(-1))) {
            int blocks = 4096; // 64 B blocks: 4 slabs of 1,024 slots
            long[] kept = new long[blocks / 2];
            Thread first = Thread.ofPlatform().start(() -> {
                long[] all = new long[blocks];
                for (int i = 0; i < blocks; i++) {
                    all[i] = allocator.allocate(64);
                }
                for (int i = 0; i < blocks; i++) {
                    if (i % 2 == 0) {
                        kept[i / 2] = all[i];
                    } else {
                        allocator.free(all[i]); // every slab half empty when the thread ends
                    }
                }
            });
            first.join();
            long committedBefore = allocator.committedBytes();
            long[] taken = new long[blocks / 4];
            Thread second = Thread.ofPlatform().start(() -> {
                for (int i = 0; i < taken.length; i++) {
                    taken[i] = allocator.allocate(64);
                }
            });
            second.join();
            assertEquals(committedBefore, allocator.committedBytes(),
                    "the second thread's 1,024 blocks fit in the dead thread's free slots: " + allocator.stats());
            for (long address : kept) {
                allocator.free(address);
            }
            for (long address : taken) {
                allocator.free(address);
            }
        }
    }

    @Test
    void blocksFreedAfterTheirThreadDiedAreReclaimed() throws Exception {
        try (OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("churn")
                .maxBytes(1L << 30).decayMillis(-1))) {
            BlockingQueue<long[]> handedOver = new ArrayBlockingQueue<>(64);
            AtomicReference<Throwable> failure = new AtomicReference<>();
            int threads = 2000;
            // The freeing thread runs behind the workers, so most of its frees land after the worker died.
            Thread freer = Thread.ofPlatform().start(() -> {
                try {
                    for (int t = 0; t < threads; t++) {
                        long[] blocks = handedOver.take();
                        for (int i = 0; i < blocks.length; i += 2) {
                            check(allocator, blocks[i], blocks[i + 1]);
                            allocator.free(blocks[i]);
                        }
                    }
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
            });
            long peakCommitted = 0;
            for (int t = 0; t < threads; t++) {
                int seed = t;
                Thread worker = Thread.ofPlatform().start(() -> {
                    SplittableRandom random = new SplittableRandom(seed);
                    long[] blocks = new long[2 * 32];
                    for (int i = 0; i < blocks.length; i += 2) {
                        long size = random.nextLong(16, 4096);
                        blocks[i] = allocator.allocate(size);
                        blocks[i + 1] = size;
                        stamp(allocator, blocks[i], size);
                    }
                    try {
                        handedOver.put(blocks);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                });
                worker.join();
                peakCommitted = Math.max(peakCommitted, allocator.stats().committedBytes());
            }
            freer.join(60_000);
            if (failure.get() != null) {
                throw new AssertionError("the freeing thread failed", failure.get());
            }
            // With no purger, dead caches are reclaimed as new ones register: memory does not grow per thread.
            assertTrue(peakCommitted < 256L << 20, "peak committed " + peakCommitted + " for 2000 short threads");
            allocator.trim();
            AllocatorStats afterTrim = allocator.stats();
            assertEquals(0, afterTrim.liveBlocks(), "every block was freed");
            assertTrue(allocator.cacheCount() <= 3, allocator.cacheCount() + " caches after every worker died");
            assertEquals(0, afterTrim.committedBytes(), "everything went back to the OS: " + afterTrim);
        }
    }

    /**
     * A virtual thread whose shared cache needs a slab while the heap's lock is busy waits for the heap holding no
     * shared cache: parked, it has no carrier, and the cache it held would be out of every other thread's reach.
     */
    @Test
    void aVirtualThreadWaitingForTheHeapHoldsNoSharedCache() throws Exception {
        try (OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("virtual-wait")
                .maxBytes(64L << 20).decayMillis(-1))) {
            AtomicLong block = new AtomicLong();
            Thread virtual;
            allocator.heap.lock.lock();
            try {
                virtual = Thread.ofVirtual().start(() -> block.set(allocator.allocate(64))); // its first slab
                long giveUpAt = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (!allocator.heap.lock.hasQueuedThread(virtual)) {
                    assertTrue(System.nanoTime() < giveUpAt, "the virtual thread never waited for the heap");
                    Thread.onSpinWait();
                }
                assertFalse(allocator.sharedCaches.anyLocked(), "a shared cache held while waiting for the heap");
            } finally {
                allocator.heap.lock.unlock();
            }
            virtual.join();
            assertNotEquals(0, block.get());
            allocator.free(block.get());
        }
    }

    @Test
    void virtualThreadsShareABoundedSetOfCaches() throws Exception {
        try (OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("virtual")
                .maxBytes(1L << 30));
             ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor()) {
            int tasks = 100_000;
            AtomicReference<Throwable> failure = new AtomicReference<>();
            for (int t = 0; t < tasks; t++) {
                int seed = t;
                executor.execute(() -> {
                    try {
                        long size = 16 + (seed % 64) * 16;
                        long a = allocator.allocate(size);
                        stamp(allocator, a, size);
                        Thread.yield();
                        long b = allocator.allocate(size);
                        stamp(allocator, b, size);
                        check(allocator, a, size);
                        allocator.free(a);
                        check(allocator, b, size);
                        allocator.free(b);
                    } catch (Throwable e) {
                        failure.compareAndSet(null, e);
                    }
                });
            }
            executor.shutdown();
            assertTrue(executor.awaitTermination(120, TimeUnit.SECONDS));
            if (failure.get() != null) {
                throw new AssertionError("a virtual thread failed", failure.get());
            }
            int maxShared = 2 * Runtime.getRuntime().availableProcessors();
            assertTrue(allocator.cacheCount() <= maxShared + 1, allocator.cacheCount() + " caches for " + tasks
                    + " virtual threads");
            AllocatorStats stats = allocator.stats();
            assertEquals(0, stats.liveBlocks());
            assertTrue(stats.committedBytes() <= 64L * maxShared * 4 * PageBuddy.PAGE_BYTES,
                    "committed " + stats.committedBytes());
        }
    }

    @Test
    void memoryOfVirtualThreadsGoesBackWithoutTrim() throws Exception {
        try (OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("virtual-decay")
                .maxBytes(1L << 30).decayMillis(100));
             ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int t = 0; t < 10_000; t++) {
                int seed = t;
                executor.execute(() -> {
                    long[] blocks = new long[16];
                    for (int i = 0; i < blocks.length; i++) {
                        blocks[i] = allocator.allocate(16 + (seed + i) % 2000);
                    }
                    for (long block : blocks) {
                        allocator.free(block);
                    }
                });
            }
            executor.shutdown();
            assertTrue(executor.awaitTermination(60, TimeUnit.SECONDS));
            assertTrue(allocator.stats().committedBytes() > 0);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (allocator.stats().committedBytes() > 0 && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertEquals(0, allocator.stats().committedBytes(), "the shared caches' empty slabs stayed committed");
        }
    }

    @Test
    void theCapIsNeverOvershotAndTheAllocatorRecovers() {
        long cap = 32L << 20;
        try (OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("cap")
                .maxBytes(cap))) {
            SplittableRandom random = new SplittableRandom(3);
            List<Long> blocks = new ArrayList<>();
            OffHeapOutOfMemoryException full = null;
            while (full == null) {
                try {
                    blocks.add(allocator.allocate(randomSize(random)));
                } catch (OffHeapOutOfMemoryException e) {
                    full = e;
                }
                AllocatorStats stats = allocator.stats();
                assertTrue(stats.committedBytes() <= cap, "committed " + stats.committedBytes() + " over the cap");
            }
            assertTrue(full.getMessage().contains("maxBytes " + cap), full.getMessage());
            blocks.forEach(allocator::free);
            allocator.trim();
            long address = allocator.allocate(16L << 20);
            allocator.free(address);
        }
    }

    /**
     * A producer allocates 14 MiB of small blocks, another thread frees them all, and the producer stays alive
     * but idle: its slabs, emptied by remote frees it never collects, must still go back, with the decay alone
     * and without anything from the producer. Then the producer allocates again as if nothing happened.
     */
    @Test
    void memoryOfAnIdleThreadGoesBackAfterTheDecay() throws Exception {
        try (OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("idle")
                .maxBytes(256L << 20).decayMillis(100))) {
            int count = 65_536;
            long[] blocks = new long[count];
            CountDownLatch produced = new CountDownLatch(1);
            CountDownLatch wakeUp = new CountDownLatch(1);
            AtomicReference<Throwable> failure = new AtomicReference<>();
            Thread producer = Thread.ofPlatform().start(() -> {
                try {
                    for (int i = 0; i < count; i++) {
                        blocks[i] = allocator.allocate(i % 2 == 0 ? 256 : 200); // two classes
                        stamp(allocator, blocks[i], 200);
                    }
                    produced.countDown();
                    wakeUp.await(); // idle: no allocation, no free, no trim
                    long[] again = new long[count];
                    for (int i = 0; i < count; i++) {
                        again[i] = allocator.allocate(256);
                        stamp(allocator, again[i], 256);
                    }
                    for (long address : again) {
                        check(allocator, address, 256);
                        allocator.free(address);
                    }
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
            });
            produced.await();
            assertTrue(allocator.stats().committedBytes() >= (long) count * 200, "committed while the blocks live");
            for (long address : blocks) {
                check(allocator, address, 200);
                allocator.free(address); // remote frees into the producer's slabs
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            // What may stay: the producer's current slab of each of its two classes (64 KiB each).
            long allowed = 2 * 64 * 1024;
            while (allocator.stats().committedBytes() > allowed && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertTrue(allocator.stats().committedBytes() <= allowed, "the idle producer still holds "
                    + allocator.stats().committedBytes() + " committed bytes, all its blocks freed by another thread");
            assertTrue(producer.isAlive(), "the producer must be alive (idle) for this test to mean anything");
            assertTrue(allocator.slabsTakenFromLiveCaches() > 0, "the purge took nothing from the idle cache");
            wakeUp.countDown();
            producer.join(60_000);
            if (failure.get() != null) {
                throw new AssertionError("the producer failed after its cache was trimmed", failure.get());
            }
            assertEquals(0, allocator.stats().liveBlocks());
            allocator.verify();
        }
    }

    /**
     * Trims take slabs out of live threads' caches (those other threads' frees emptied) while the owners
     * allocate, refill and free: a producer hands blocks through a queue to a consumer that frees them and
     * hands back blocks of its own, so slabs on both sides empty by remote frees while their owner works on
     * others, and the main thread trims without pause. A slab taken while its owner could still use it shows up
     * as a corrupted cookie, a failed allocation or a broken invariant in verify().
     */
    @Test
    void trimsRacingCrossThreadFreesNeverTouchLiveBlocks() throws Exception {
        try (OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("trim-race")
                .maxBytes(256L << 20).decayMillis(-1))) {
            BlockingQueue<long[]> toConsumer = new ArrayBlockingQueue<>(4096);
            BlockingQueue<long[]> toProducer = new ArrayBlockingQueue<>(4096);
            AtomicReference<Throwable> failure = new AtomicReference<>();
            long deadline = System.nanoTime() + 1_500_000_000L;
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < 2; t++) {
                long seed = t;
                BlockingQueue<long[]> out = t == 0 ? toConsumer : toProducer;
                BlockingQueue<long[]> in = t == 0 ? toProducer : toConsumer;
                int batch = t == 0 ? 64 : 8; // the producer sends more than it gets back
                threads.add(Thread.ofPlatform().start(() -> {
                    SplittableRandom random = new SplittableRandom(seed);
                    try {
                        while (System.nanoTime() < deadline && failure.get() == null) {
                            for (int i = 0; i < batch; i++) {
                                long size = random.nextInt(10) < 9 ? random.nextLong(8, 1025) : randomSize(random);
                                long address = allocator.allocate(size);
                                stamp(allocator, address, size);
                                if (!out.offer(new long[] {address, size})) {
                                    check(allocator, address, size);
                                    allocator.free(address);
                                }
                            }
                            for (long[] block = in.poll(); block != null; block = in.poll()) {
                                check(allocator, block[0], block[1]);
                                allocator.free(block[0]);
                            }
                        }
                    } catch (Throwable e) {
                        failure.compareAndSet(null, e);
                    }
                }));
            }
            int trims = 0;
            while (System.nanoTime() < deadline && failure.get() == null) {
                allocator.trim();
                trims++;
            }
            for (Thread thread : threads) {
                thread.join();
            }
            if (failure.get() != null) {
                throw new AssertionError("a thread failed after " + trims + " trims", failure.get());
            }
            allocator.verify();
            for (BlockingQueue<long[]> queue : List.of(toConsumer, toProducer)) {
                for (long[] block = queue.poll(); block != null; block = queue.poll()) {
                    check(allocator, block[0], block[1]);
                    allocator.free(block[0]);
                }
            }
            assertEquals(0, allocator.stats().liveBlocks());
            assertTrue(allocator.slabsTakenFromLiveCaches() > 0, "no trim took a slab from a live cache: after "
                    + trims + " trims this test proved nothing");
        }
    }

    @Test
    void freePagesGoBackToTheOsAfterTheDecay() throws Exception {
        try (OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("decay")
                .maxBytes(256L << 20).decayMillis(100))) {
            List<Long> blocks = new ArrayList<>();
            for (int i = 0; i < 64; i++) {
                long address = allocator.allocate(1 << 20);
                allocator.segment(address).fill((byte) 1);
                blocks.add(address);
            }
            long busy = allocator.stats().committedBytes();
            assertTrue(busy >= 64L << 20);
            blocks.forEach(allocator::free);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (allocator.stats().committedBytes() > 0 && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertEquals(0, allocator.stats().committedBytes(), "free pages still committed after the decay");
            assertTrue(allocator.purgedBytes() >= 64L << 20);
            assertTrue(allocator.purgeCount() >= 1);
        }
    }

    /**
     * The purge hands pages back (madvise) without the heap's lock, so it must never hand back pages that an
     * allocation took meanwhile: a live block zeroed behind its owner's back fails its cookie.
     */
    @Test
    void purgesRacingAllocationsNeverTouchLiveBlocks() throws Exception {
        try (OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("purge-race")
                .maxBytes(256L << 20).decayMillis(-1))) {
            AtomicReference<Throwable> failure = new AtomicReference<>();
            long deadline = System.nanoTime() + 1_500_000_000L;
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < 2; t++) {
                long seed = t;
                threads.add(Thread.ofPlatform().start(() -> {
                    SplittableRandom random = new SplittableRandom(seed);
                    long[] addresses = new long[256];
                    long[] sizes = new long[256];
                    try {
                        while (System.nanoTime() < deadline) {
                            int i = random.nextInt(addresses.length);
                            if (addresses[i] != 0) {
                                check(allocator, addresses[i], sizes[i]);
                                allocator.free(addresses[i]);
                                addresses[i] = 0;
                            } else {
                                sizes[i] = randomSize(random);
                                addresses[i] = allocator.allocate(sizes[i]);
                                stamp(allocator, addresses[i], sizes[i]);
                            }
                        }
                        for (int i = 0; i < addresses.length; i++) {
                            if (addresses[i] != 0) {
                                check(allocator, addresses[i], sizes[i]);
                                allocator.free(addresses[i]);
                            }
                        }
                    } catch (Throwable e) {
                        failure.compareAndSet(null, e);
                    }
                }));
            }
            long purged = 0;
            while (System.nanoTime() < deadline) {
                purged += allocator.trim();
            }
            for (Thread thread : threads) {
                thread.join();
            }
            assertEquals(null, failure.get());
            assertTrue(purged > 0, "the purges handed pages back while the others allocated");
        }
    }
}
