package dev.offheap.allocator.cache;

import dev.offheap.allocator.AllocatorStats;

/**
 * A snapshot of an {@link OffHeapCache}'s counters (since creation) and contents, with its allocator's stats
 * alongside. Counters are read without stopping writers, so the figures may be a few operations apart.
 *
 * @param hits           reads that found a live entry
 * @param misses         reads that did not (absent or expired)
 * @param puts           entries written (new or replacing)
 * @param evictions      entries dropped by the policy to stay within capacity
 * @param expirations    entries dropped because their time to live ran out
 * @param removals       entries removed by {@link OffHeapCache#remove} or a compute returning null
 * @param rejections     writes refused because the allocator had no memory even after eviction
 * @param entries        entries now in the cache
 * @param weightBytes    memory the entries take (sum of their blocks' usable sizes)
 * @param capacityBytes  the configured capacity: with the cache's own allocator, the bound on what that allocator
 *                       commits (entries, index and the allocator's free slots); with a shared one, on
 *                       {@code weightBytes}
 * @param weightLimitBytes the bound on {@code weightBytes} now: {@code capacityBytes}, or less while the cache's
 *                       own allocator would otherwise commit more than {@code capacityBytes} (see
 *                       {@link OffHeapCache})
 * @param indexBytes     memory the index takes in the same allocator, beyond the entries: 16 bytes a slot,
 *                       doubled when 3/4 full, never shrunk (not by {@code clear()} either); off the heap, not
 *                       in {@code weightBytes} (with the cache's own allocator it is part of what
 *                       {@code capacityBytes} bounds)
 * @param allocator      the allocator's stats (committed memory, fragmentation, thread caches); null from
 *                       {@link OffHeapCache#cacheStats()}, which leaves them out
 */
public record CacheStats(long hits, long misses, long puts, long evictions, long expirations, long removals,
                         long rejections, long entries, long weightBytes, long capacityBytes,
                         long weightLimitBytes, long indexBytes, AllocatorStats allocator) {

    /** hits / (hits + misses); 0 before the first read. */
    public double hitRate() {
        long reads = hits + misses;
        return reads == 0 ? 0 : (double) hits / reads;
    }

    @Override
    public String toString() {
        return String.format("CacheStats{hits=%d, misses=%d, hitRate=%.3f, puts=%d, evictions=%d, expirations=%d,"
                        + " removals=%d, rejections=%d, entries=%d, weightBytes=%d, capacityBytes=%d,"
                        + " weightLimitBytes=%d, indexBytes=%d, allocatorCommitted=%d}", hits, misses, hitRate(), puts,
                evictions, expirations, removals, rejections, entries, weightBytes, capacityBytes, weightLimitBytes,
                indexBytes, allocator == null ? -1 : allocator.committedBytes());
    }
}
