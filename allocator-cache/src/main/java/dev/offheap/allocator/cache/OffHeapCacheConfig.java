package dev.offheap.allocator.cache;

import dev.offheap.allocator.offheap.OffHeapAllocator;
import dev.offheap.allocator.offheap.OffHeapAllocatorConfig;

import java.time.Duration;
import java.util.Objects;

/**
 * The one configuration object of an {@link OffHeapCache}: a builder with unit-suffixed names, validated by
 * {@link #conclude()}.
 *
 * <pre>{@code
 * OffHeapCache cache = OffHeapCache.create(new OffHeapCacheConfig()
 *         .capacityBytes(512L << 20)          // entries' memory (headers, keys, values) at most 512 MiB
 *         .defaultTimeToLive(Duration.ofMinutes(10)));
 * }</pre>
 *
 * <p>The cache owns an allocator it creates (capped at {@code capacityBytes} plus room for the allocator's own
 * slack), unless one is given with {@link #allocator(OffHeapAllocator)}; a given one is shared and left open
 * when the cache closes. Not thread-safe.
 */
public final class OffHeapCacheConfig {
    /** Largest key: 64 KiB. */
    public static final int MAX_KEY_BYTES = 64 << 10;
    /** Default of {@link #maxValueBytes(int)}: 1 MiB. */
    public static final int MAX_VALUE_BYTES_DEFAULT = 1 << 20;
    /** Default of {@link #capacityBytes(long)}: 64 MiB. */
    public static final long CAPACITY_BYTES_DEFAULT = 64L << 20;
    /** The smallest share of the capacity a segment gets by default (segments are fewer for small caches). */
    static final long MIN_SEGMENT_BYTES = 4L << 20;

    private String name = "offheap-cache";
    private long capacityBytes = CAPACITY_BYTES_DEFAULT;
    private long maxEntries = Long.MAX_VALUE;
    private int maxValueBytes = MAX_VALUE_BYTES_DEFAULT;
    private int segments;
    private Duration defaultTimeToLive = Duration.ZERO;
    private OffHeapAllocator allocator;
    private OffHeapAllocatorConfig allocatorConfig;

    /** Names the cache (and the allocator it creates, for its MBean and logs). */
    public OffHeapCacheConfig name(String name) {
        this.name = Objects.requireNonNull(name, "name");
        return this;
    }

    /**
     * Most memory the entries may take: the sum of their blocks' usable sizes (header, key, value and the size
     * class's rounding). When a write would pass it, the policy evicts.
     */
    public OffHeapCacheConfig capacityBytes(long capacityBytes) {
        this.capacityBytes = capacityBytes;
        return this;
    }

    /** Most entries; unlimited by default (the weight limit alone applies). */
    public OffHeapCacheConfig maxEntries(long maxEntries) {
        this.maxEntries = maxEntries;
        return this;
    }

    /** Largest value accepted, 1 MiB by default; larger ones are refused with an exception. */
    public OffHeapCacheConfig maxValueBytes(int maxValueBytes) {
        this.maxValueBytes = maxValueBytes;
        return this;
    }

    /**
     * Number of lock stripes, a power of two. By default the most up to {@code 4 x cores} that leaves each at
     * least 4 MiB of the capacity, since each segment evicts within its own share.
     */
    public OffHeapCacheConfig segments(int segments) {
        this.segments = segments;
        return this;
    }

    /** Time to live of entries written without one; {@link Duration#ZERO} (the default) for forever. */
    public OffHeapCacheConfig defaultTimeToLive(Duration defaultTimeToLive) {
        this.defaultTimeToLive = Objects.requireNonNull(defaultTimeToLive, "defaultTimeToLive");
        return this;
    }

    /** An allocator to share: entries come from it, and it stays open when the cache closes. */
    public OffHeapCacheConfig allocator(OffHeapAllocator allocator) {
        this.allocator = Objects.requireNonNull(allocator, "allocator");
        return this;
    }

    /** Settings for the allocator the cache creates (its name and maxBytes are set by the cache). */
    public OffHeapCacheConfig allocatorConfig(OffHeapAllocatorConfig allocatorConfig) {
        this.allocatorConfig = Objects.requireNonNull(allocatorConfig, "allocatorConfig");
        return this;
    }

    public String name() {
        return name;
    }

    public long capacityBytes() {
        return capacityBytes;
    }

    public long maxEntries() {
        return maxEntries;
    }

    public int maxValueBytes() {
        return maxValueBytes;
    }

    public int segments() {
        return segments;
    }

    public Duration defaultTimeToLive() {
        return defaultTimeToLive;
    }

    /** The shared allocator, or null if the cache creates its own. */
    public OffHeapAllocator allocator() {
        return allocator;
    }

    OffHeapAllocatorConfig allocatorConfig() {
        return allocatorConfig;
    }

    /** Checks every setting and fills in the derived ones; returns this. */
    public OffHeapCacheConfig conclude() {
        if (capacityBytes < 64 << 10) {
            throw new IllegalArgumentException("capacityBytes(" + capacityBytes + "): a cache needs at least 64 KiB");
        }
        if (maxEntries < 1) {
            throw new IllegalArgumentException("maxEntries(" + maxEntries + "): must be at least 1");
        }
        if (maxValueBytes < 0 || maxValueBytes > 1 << 30) {
            throw new IllegalArgumentException("maxValueBytes(" + maxValueBytes + "): must be 0 to 1 GiB");
        }
        if (defaultTimeToLive.isNegative()) {
            throw new IllegalArgumentException("defaultTimeToLive(" + defaultTimeToLive + "): must not be negative");
        }
        if (segments == 0) {
            int byCores = Integer.highestOneBit(4 * Runtime.getRuntime().availableProcessors());
            long byCapacity = Long.highestOneBit(Math.max(1, capacityBytes / MIN_SEGMENT_BYTES));
            segments = (int) Math.min(byCores, byCapacity);
        } else if (segments < 0 || Integer.bitCount(segments) != 1 || segments > 1 << 16) {
            throw new IllegalArgumentException("segments(" + segments + "): must be a power of two from 1 to 65536");
        }
        long largestEntry = EntryLayout.HEADER_BYTES + MAX_KEY_BYTES + (long) maxValueBytes;
        if (capacityBytes / segments < largestEntry) {
            throw new IllegalArgumentException("capacityBytes(" + capacityBytes + ") / segments(" + segments + ") = "
                    + capacityBytes / segments + " bytes per segment: less than the largest entry (" + largestEntry
                    + " bytes with maxValueBytes " + maxValueBytes + " and 64 KiB keys); use fewer segments, a"
                    + " larger capacity, or a smaller maxValueBytes");
        }
        return this;
    }

    @Override
    public String toString() {
        return "OffHeapCacheConfig{name=" + name + ", capacityBytes=" + capacityBytes + ", maxEntries="
                + (maxEntries == Long.MAX_VALUE ? "unlimited" : maxEntries) + ", maxValueBytes=" + maxValueBytes
                + ", segments=" + segments + ", defaultTimeToLive=" + defaultTimeToLive
                + ", allocator=" + (allocator == null ? "own" : allocator.name()) + "}";
    }
}
