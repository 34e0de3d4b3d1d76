package dev.offheap.allocator.cache;

import dev.offheap.allocator.offheap.OffHeapAllocator;
import dev.offheap.allocator.offheap.MemorySource;
import dev.offheap.allocator.offheap.OffHeapAllocatorConfig;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What a cache costs: with its own allocator, that allocator's committed memory is held to the capacity. */
class CacheMemoryTest {
    private static final long CAPACITY = 128L << 20;
    private static final int KEYS = 200_000;

    /** Values of 16 B to 16 KiB, log-uniform, the size fixed per key; random replacement over {@link #KEYS}. */
    private static void churn(OffHeapCache cache, int threads, int putsPerThread) throws InterruptedException {
        List<Thread> workers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int seed = t;
            workers.add(Thread.ofPlatform().start(() -> {
                SplittableRandom random = new SplittableRandom(seed);
                byte[] key = new byte[8];
                for (int i = 0; i < putsPerThread; i++) {
                    int k = random.nextInt(KEYS);
                    for (int b = 0; b < 8; b++) {
                        key[b] = (byte) (k >>> (8 * b));
                    }
                    SplittableRandom sized = new SplittableRandom(k);
                    int length = (int) Math.exp(Math.log(16) + sized.nextDouble() * (Math.log(16 << 10) - Math.log(16)));
                    cache.put(key, new byte[length]);
                }
            }));
        }
        for (Thread worker : workers) {
            worker.join();
        }
    }

    @Test
    void theOwnAllocatorsCommittedMemoryIsHeldToTheCapacity() throws InterruptedException {
        // Pages freed go back within 20 ms, not a second: the run's 2-3 s are then many purge ticks.
        try (OffHeapCache cache = OffHeapCache.create(new OffHeapCacheConfig().capacityBytes(CAPACITY)
                .allocatorConfig(new OffHeapAllocatorConfig().decayMillis(20)))) {
            churn(cache, 2, 1_200_000);
            long limit = CAPACITY + MemoryBudget.ALLOWANCE_BYTES;
            // The threads ended: their caches and the pages freed last go back at the next purge ticks.
            long deadline = System.nanoTime() + 2_000_000_000L;
            while (cache.allocator().committedBytes() > limit && System.nanoTime() < deadline) {
                Thread.onSpinWait();
            }
            CacheStats stats = cache.stats();
            // Without the budget the entries filled the capacity and the allocator held 1.2-1.4x of them.
            assertTrue(stats.allocator().committedBytes() <= limit, "committed " + stats.allocator().committedBytes()
                    + " for a capacity of " + CAPACITY + " + " + MemoryBudget.ALLOWANCE_BYTES + ": " + stats);
            assertTrue(stats.weightLimitBytes() < CAPACITY, "the entries' bound came down: " + stats);
            assertTrue(stats.weightLimitBytes() >= CAPACITY / 2, "to half the capacity at most: " + stats);
            assertTrue(stats.weightBytes() <= stats.weightLimitBytes(), stats.toString());
        }
    }

    @Test
    void overACallersRegionTheEntriesAloneAreBounded() throws InterruptedException {
        long capacity = 16L << 20;
        long maxBytes = 2 * capacity + (32L << 20); // what the cache asks of the allocator it creates
        try (Arena arena = Arena.ofShared()) {
            MemorySegment region = arena.allocate(maxBytes + (64 << 10), 64 << 10);
            try (OffHeapCache cache = OffHeapCache.create(new OffHeapCacheConfig().capacityBytes(capacity)
                    .allocatorConfig(new OffHeapAllocatorConfig().memorySource(MemorySource.of(region))))) {
                churn(cache, 1, 100_000);
                CacheStats stats = cache.stats();
                assertEquals(capacity, stats.weightLimitBytes(), "a region commits whole: its figure says nothing");
                assertTrue(stats.weightBytes() > capacity - capacity / 8, "the entries fill the capacity: " + stats);
            }
        }
    }

    @Test
    void overASharedAllocatorTheEntriesAloneAreBounded() throws InterruptedException {
        try (OffHeapAllocator shared = OffHeapAllocator.create(new OffHeapAllocatorConfig().maxBytes(256L << 20));
             OffHeapCache cache = OffHeapCache.create(new OffHeapCacheConfig().capacityBytes(CAPACITY)
                     .allocator(shared))) {
            churn(cache, 2, 400_000);
            CacheStats stats = cache.stats();
            assertEquals(CAPACITY, stats.weightLimitBytes(), "the shared allocator's memory is not the cache's alone");
            assertTrue(stats.weightBytes() > CAPACITY - CAPACITY / 8, "the entries fill the capacity: " + stats);
        }
    }
}
