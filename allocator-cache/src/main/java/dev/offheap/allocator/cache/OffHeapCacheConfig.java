package dev.offheap.allocator.cache;

import dev.offheap.allocator.offheap.OffHeapAllocator;
import dev.offheap.allocator.offheap.OffHeapAllocatorConfig;

import java.time.Duration;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * The one configuration object of an {@link OffHeapCache}: an immutable value with unit-suffixed names, validated
 * by {@link #conclude()}. Each setting returns a new configuration and leaves this one as it was.
 *
 * <pre>{@code
 * OffHeapCache cache = OffHeapCache.create(new OffHeapCacheConfig()
 *         .capacityBytes(512L << 20)          // what the cache's memory may grow to: 512 MiB
 *         .defaultTimeToLive(Duration.ofMinutes(10)));
 * }</pre>
 *
 * <p>The cache owns an allocator it creates, and holds that allocator's committed memory to {@code capacityBytes}
 * (plus 16 MiB), unless one is given with {@link #allocator(OffHeapAllocator)}; a given one is shared and left
 * open when the cache closes. Immutable, so thread-safe; a setting's result must be used.
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
    /** The smallest capacity: a few entries of small keys and values. */
    static final long MIN_CAPACITY_BYTES = 4L << 10;

    /** The settings: a fresh copy is written before it is wrapped, then never again. */
    private final Settings settings;

    /** Every setting, mutable only while a new configuration is being made ({@link #with}). */
    private static final class Settings {
        String name = "offheap-cache";
        long capacityBytes = CAPACITY_BYTES_DEFAULT;
        long maxEntries = Long.MAX_VALUE;
        int maxValueBytes = MAX_VALUE_BYTES_DEFAULT;
        int maxKeyBytes = MAX_KEY_BYTES;
        int segments;
        Duration defaultTimeToLive = Duration.ZERO;
        Ticker ticker = Ticker.system();
        RemovalListener removalListener;
        OffHeapAllocator allocator;
        OffHeapAllocatorConfig allocatorConfig;

        Settings copy() {
            Settings copy = new Settings();
            copy.name = name;
            copy.capacityBytes = capacityBytes;
            copy.maxEntries = maxEntries;
            copy.maxValueBytes = maxValueBytes;
            copy.maxKeyBytes = maxKeyBytes;
            copy.segments = segments;
            copy.defaultTimeToLive = defaultTimeToLive;
            copy.ticker = ticker;
            copy.removalListener = removalListener;
            copy.allocator = allocator;
            copy.allocatorConfig = allocatorConfig; // immutable too
            return copy;
        }
    }

    /** A configuration with every setting at its default. */
    public OffHeapCacheConfig() {
        this(new Settings());
    }

    private OffHeapCacheConfig(Settings settings) {
        this.settings = settings; // final: the settings written before are seen by every thread that sees this
    }

    /** A new configuration: this one's settings with {@code change} applied to a copy. */
    private OffHeapCacheConfig with(Consumer<Settings> change) {
        Settings changed = settings.copy();
        change.accept(changed);
        return new OffHeapCacheConfig(changed);
    }

    /** Names the cache (and the allocator it creates, for its MBean and logs). */
    public OffHeapCacheConfig name(String name) {
        Objects.requireNonNull(name, "name");
        return with(s -> s.name = name);
    }

    /**
     * The cache's memory. With the allocator the cache creates (the default): what that allocator commits, entries,
     * index and the free slots evictions leave in its slabs together, plus 16 MiB for the allocator's own (a slab
     * per size class and thread, pages waiting for the purge); the entries are held to less than this while those
     * free slots need the rest (to half of it at most: {@link CacheStats#weightLimitBytes()}). With a shared
     * allocator, or one over a caller's region (which counts as committed whole): the entries' blocks' usable
     * sizes (header, key, value and the size class's rounding). When a write would pass it, the policy evicts.
     */
    public OffHeapCacheConfig capacityBytes(long capacityBytes) {
        return with(s -> s.capacityBytes = capacityBytes);
    }

    /** Most entries; unlimited by default (the weight limit alone applies). */
    public OffHeapCacheConfig maxEntries(long maxEntries) {
        return with(s -> s.maxEntries = maxEntries);
    }

    /** Largest value accepted, 1 MiB by default; larger ones are refused with an exception. */
    public OffHeapCacheConfig maxValueBytes(int maxValueBytes) {
        return with(s -> s.maxValueBytes = maxValueBytes);
    }

    /**
     * Longest key accepted by a write, 1 to {@value #MAX_KEY_BYTES} bytes ({@value #MAX_KEY_BYTES} by default);
     * longer ones are refused with an exception (a read of one is a miss). Every segment must hold the largest
     * entry, so a small cache needs a small bound: {@code capacityBytes(16 << 10).maxKeyBytes(16)
     * .maxValueBytes(256)} holds entries of 16-byte keys and values up to 256 bytes.
     */
    public OffHeapCacheConfig maxKeyBytes(int maxKeyBytes) {
        return with(s -> s.maxKeyBytes = maxKeyBytes);
    }

    /**
     * Number of lock stripes, a power of two. By default the most up to {@code 32 x cores} that leaves each at
     * least 4 MiB of the capacity, since each segment evicts within its own share. Many: with skewed keys the
     * segments of the hottest keys take most of the writes, and threads meet there.
     */
    public OffHeapCacheConfig segments(int segments) {
        return with(s -> s.segments = segments);
    }

    /** Time to live of entries written without one; {@link Duration#ZERO} (the default) for forever. */
    public OffHeapCacheConfig defaultTimeToLive(Duration defaultTimeToLive) {
        Objects.requireNonNull(defaultTimeToLive, "defaultTimeToLive");
        return with(s -> s.defaultTimeToLive = defaultTimeToLive);
    }

    /** The clock of times to live; {@link Ticker#system()} by default. A test's own makes expiry instant. */
    public OffHeapCacheConfig ticker(Ticker ticker) {
        Objects.requireNonNull(ticker, "ticker");
        return with(s -> s.ticker = ticker);
    }

    /** Told of every entry that leaves the cache, and why; none by default. See {@link RemovalListener}. */
    public OffHeapCacheConfig removalListener(RemovalListener removalListener) {
        Objects.requireNonNull(removalListener, "removalListener");
        return with(s -> s.removalListener = removalListener);
    }

    /** An allocator to share: entries come from it, and it stays open when the cache closes. */
    public OffHeapCacheConfig allocator(OffHeapAllocator allocator) {
        Objects.requireNonNull(allocator, "allocator");
        return with(s -> s.allocator = allocator);
    }

    /** Settings for the allocator the cache creates (its name and maxBytes are set by the cache). */
    public OffHeapCacheConfig allocatorConfig(OffHeapAllocatorConfig allocatorConfig) {
        Objects.requireNonNull(allocatorConfig, "allocatorConfig");
        return with(s -> s.allocatorConfig = allocatorConfig);
    }

    public String name() {
        return settings.name;
    }

    public long capacityBytes() {
        return settings.capacityBytes;
    }

    public long maxEntries() {
        return settings.maxEntries;
    }

    public int maxValueBytes() {
        return settings.maxValueBytes;
    }

    public int maxKeyBytes() {
        return settings.maxKeyBytes;
    }

    public int segments() {
        return settings.segments;
    }

    public Duration defaultTimeToLive() {
        return settings.defaultTimeToLive;
    }

    public Ticker ticker() {
        return settings.ticker;
    }

    /** The removal listener, or null. */
    public RemovalListener removalListener() {
        return settings.removalListener;
    }

    /** The shared allocator, or null if the cache creates its own. */
    public OffHeapAllocator allocator() {
        return settings.allocator;
    }

    OffHeapAllocatorConfig allocatorConfig() {
        return settings.allocatorConfig;
    }

    /** Checks every setting; this configuration, or a copy with the derived settings (segments) filled in. */
    public OffHeapCacheConfig conclude() {
        long capacityBytes = settings.capacityBytes;
        int maxValueBytes = settings.maxValueBytes;
        Duration defaultTimeToLive = settings.defaultTimeToLive;
        int segments = settings.segments;
        if (capacityBytes < MIN_CAPACITY_BYTES) {
            throw new IllegalArgumentException("capacityBytes(" + capacityBytes + "): a cache needs at least "
                    + MIN_CAPACITY_BYTES + " bytes");
        }
        if (settings.maxKeyBytes < 1 || settings.maxKeyBytes > MAX_KEY_BYTES) {
            throw new IllegalArgumentException("maxKeyBytes(" + settings.maxKeyBytes + "): must be 1 to "
                    + MAX_KEY_BYTES);
        }
        if (settings.maxEntries < 1) {
            throw new IllegalArgumentException("maxEntries(" + settings.maxEntries + "): must be at least 1");
        }
        if (maxValueBytes < 0 || maxValueBytes > 1 << 30) {
            throw new IllegalArgumentException("maxValueBytes(" + maxValueBytes + "): must be 0 to 1 GiB");
        }
        if (defaultTimeToLive.isNegative()) {
            throw new IllegalArgumentException("defaultTimeToLive(" + defaultTimeToLive + "): must not be negative");
        }
        if (segments == 0) {
            int byCores = Integer.highestOneBit(32 * Runtime.getRuntime().availableProcessors());
            long byCapacity = Long.highestOneBit(Math.max(1, capacityBytes / MIN_SEGMENT_BYTES));
            segments = (int) Math.min(byCores, byCapacity);
        } else if (segments < 0 || Integer.bitCount(segments) != 1 || segments > 1 << 16) {
            throw new IllegalArgumentException("segments(" + segments + "): must be a power of two from 1 to 65536");
        }
        long largestEntry = EntryLayout.HEADER_BYTES + settings.maxKeyBytes + (long) maxValueBytes;
        if (capacityBytes / segments < largestEntry) {
            throw new IllegalArgumentException("capacityBytes(" + capacityBytes + ") / segments(" + segments + ") = "
                    + capacityBytes / segments + " bytes per segment: less than the largest entry (" + largestEntry
                    + " bytes with maxKeyBytes " + settings.maxKeyBytes + " and maxValueBytes " + maxValueBytes
                    + "); use fewer segments, a larger capacity, or smaller maxKeyBytes or maxValueBytes");
        }
        return segments == settings.segments ? this : segments(segments);
    }

    @Override
    public String toString() {
        Settings s = settings;
        return "OffHeapCacheConfig{name=" + s.name + ", capacityBytes=" + s.capacityBytes + ", maxEntries="
                + (s.maxEntries == Long.MAX_VALUE ? "unlimited" : s.maxEntries) + ", maxValueBytes="
                + s.maxValueBytes + ", maxKeyBytes=" + s.maxKeyBytes + ", segments=" + s.segments + ", defaultTimeToLive=" + s.defaultTimeToLive
                + ", allocator=" + (s.allocator == null ? "own" : s.allocator.name()) + "}";
    }
}
