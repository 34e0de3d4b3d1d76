package dev.offheap.allocator.cache;

import dev.offheap.allocator.offheap.OffHeapAllocator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Holds what a cache costs, not only what its entries weigh, to {@code capacityBytes}: the memory its own
 * allocator has committed (entries, index, and the free slots that eviction leaves scattered over the slabs).
 *
 * <h2>Why</h2>
 * An entry's weight is its block's usable size, yet the allocator holds more: an eviction frees a block in the
 * middle of a slab, and a slab goes back only when all its blocks are gone, which a hot entry may never be. In the
 * harness's churn workload (random replacement of the cache workload's entry sizes on two threads) resident
 * memory ends at 1.18-1.33x the live bytes for this allocator, jemalloc, mimalloc and tcmalloc, and 3.4x for
 * glibc; the cache workload showed 1.32-1.40x the capacity. No allocator policy packs random frees back into dense
 * slabs, so the cache holds fewer entries instead: each segment's weight bound is {@code capacityBytes /
 * segments} times {@link #scale()}, and the scale follows the allocator's committed memory:
 * <pre>
 *   limit = capacityBytes + 16 MiB,   aim = limit - limit/32                    MIN_SCALE <= scale <= 1
 *
 *   committed > aim, by more than limit/512 above the last step down:     scale = min(scale, filled)
 *                                                                                  * (1 - max(1/128, over / 2))
 *   committed < limit - limit/16, 10 ms or more after the last step:       scale *= 1 + 1/512
 *   otherwise:                                                             hold
 * </pre>
 * {@code filled} is the calling segment's weight over its full bound (during the first fill the weight is still
 * below the bound, and lowering the bound alone would evict nothing); {@code over} is how far committed is past
 * the aim, so the step down is in proportion. Steps begin at the aim, under the limit, because committed memory
 * goes on growing after a step: the evictions free slots of some size classes while new entries take fresh slabs
 * of others, and each further step waits for limit/512 more. With the steps beginning at the limit itself, a 128
 * MiB cache churned by 2 threads (CacheMemoryTest, in a JVM of 1 GiB) ended up to 1.4 MB over the limit in 2 of 5
 * full test runs; beginning at the aim, the same churn ended 3-24 MB under it in 10 runs. Only growth moves the
 * scale down: committed memory falls only when whole slabs empty, so "above the aim" alone would shrink the cache
 * to {@link #MIN_SCALE} while nothing grows any more. Steps up are slow (at most 20% a second): the committed memory follows the weight with a lag
 * (holes fill first, emptied slabs go back at the purge tick), and faster steps made it swing. The 16 MiB
 * ({@link #ALLOWANCE_BYTES}) are the allocator's own, which do not shrink with the entries: without them a small
 * cache shrank to its minimum (32 MiB: the entries held to half of it, and the allocator still at 38-41 MB, most
 * of it slabs of each size class and pages waiting for the purge).
 *
 * <p>Not used with a shared allocator ({@link OffHeapCacheConfig#allocator}): its committed memory is not the
 * cache's alone; nor over a caller's region (a {@code MemorySource.of(region)} in the allocator's settings), which
 * counts as committed whole. Thread-safe: segments call {@link #check} under their own locks, once every 64 puts
 * of a segment, so it synchronizes.
 */
final class MemoryBudget {
    private static final Logger LOG = LoggerFactory.getLogger(MemoryBudget.class);
    /** The least share of {@code capacityBytes} the entries are held to, however much the allocator holds. */
    static final double MIN_SCALE = 0.5;
    /**
     * The allocator's own, beyond the entries' slabs: a slab per size class and thread (64-256 KiB each, 2.4 MiB
     * for a thread that wrote values of 16 B-16 KiB), and the pages freed since the last purge tick.
     */
    static final long ALLOWANCE_BYTES = 16L << 20;
    private static final double STEP_DOWN = 1.0 / 128;
    private static final double STEP_UP = 1.0 / 512;
    /** At most one step up in this time: the allocator's memory follows the entries' weight with a lag. */
    private static final long STEP_UP_NANOS = 10_000_000;

    private final String cacheName;
    private final OffHeapAllocator allocator;
    private final long limitBytes;
    /** Where steps down begin: the aim, under the limit by the growth that follows a step (class comment). */
    private final long stepDownAboveBytes;
    private final long regrowBelowBytes;
    /** Committed growth that counts as growth: less is a slab taken while another goes back. */
    private final long growthStepBytes;
    private volatile double scale = 1.0;
    private long committedAtLastStepDown;
    private long lastStepUpNanos;
    private boolean warnedAtFloor;

    private MemoryBudget(String cacheName, OffHeapAllocator allocator, long capacityBytes) {
        this.cacheName = cacheName;
        this.allocator = allocator;
        this.limitBytes = capacityBytes + ALLOWANCE_BYTES;
        this.stepDownAboveBytes = limitBytes - limitBytes / 32;
        this.regrowBelowBytes = limitBytes - limitBytes / 16;
        this.growthStepBytes = limitBytes / 512;
    }

    /** A budget that follows {@code allocator}, which the cache owns. */
    static MemoryBudget following(String cacheName, OffHeapAllocator allocator, long capacityBytes) {
        return new MemoryBudget(cacheName, allocator, capacityBytes);
    }

    /** A budget that never moves: the allocator is shared. */
    static MemoryBudget fixed() {
        return new MemoryBudget(null, null, 0);
    }

    /** The share of its full weight each segment holds its entries to now. */
    double scale() {
        return scale;
    }

    /**
     * Reads the allocator's committed memory and steps the scale (see the class comment).
     *
     * @param filled the calling segment's weight over its full (unscaled) bound
     */
    synchronized void check(long nowNanos, double filled) {
        if (allocator == null) {
            return;
        }
        long committed = allocator.committedBytes();
        if (committed > stepDownAboveBytes && committed > committedAtLastStepDown + growthStepBytes) {
            double over = (double) (committed - stepDownAboveBytes) / limitBytes;
            scale = Math.max(MIN_SCALE, Math.min(scale, filled) * (1 - Math.max(STEP_DOWN, over / 2)));
            committedAtLastStepDown = committed;
            lastStepUpNanos = nowNanos;
            if (scale == MIN_SCALE && !warnedAtFloor) {
                warnedAtFloor = true;
                LOG.warn("OffHeapCache '{}': its allocator has committed {} bytes with the entries held to {} of"
                                + " capacityBytes; the cache shrinks no further, so it may cost more than its"
                                + " capacity (memory is fragmented: see the allocator's stats())", cacheName,
                        committed, MIN_SCALE);
            }
        } else if (committed < regrowBelowBytes && scale < 1.0 && nowNanos - lastStepUpNanos >= STEP_UP_NANOS) {
            scale = Math.min(1.0, scale * (1 + STEP_UP));
            committedAtLastStepDown = Math.min(committedAtLastStepDown, committed);
            lastStepUpNanos = nowNanos;
        }
    }
}
