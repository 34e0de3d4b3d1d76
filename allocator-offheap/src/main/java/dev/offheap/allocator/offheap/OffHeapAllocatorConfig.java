package dev.offheap.allocator.offheap;

import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The one configuration object of an {@link OffHeapAllocator}: a builder with unit-suffixed names, each
 * setting with a system property that gives its default, and {@link #conclude()} to validate.
 *
 * <pre>{@code
 * OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig()
 *         .name("values")
 *         .maxBytes(8L << 30)
 *         .decayMillis(2_000));
 * }</pre>
 *
 * <p>Not thread-safe; an allocator copies what it needs when it is created.
 */
public final class OffHeapAllocatorConfig {

    /** Property for {@link #maxBytes(long)}; default 4 GiB. */
    public static final String MAX_BYTES_PROP = "offheap.maxBytes";
    /** Default of {@link #maxBytes(long)}. */
    public static final long MAX_BYTES_DEFAULT = 4L << 30;
    /** Property for {@link #threadCaching(boolean)}; default true. */
    public static final String THREAD_CACHING_PROP = "offheap.threadCaching";
    /** Property for {@link #decayMillis(long)}; default 1000. */
    public static final String DECAY_MILLIS_PROP = "offheap.decayMillis";
    /** Default of {@link #decayMillis(long)}: free pages go back to the OS after about a second. */
    public static final long DECAY_MILLIS_DEFAULT = 1000;
    /** Property for {@link #largeAllocationThresholdBytes(long)}; default 1 MiB. */
    public static final String LARGE_ALLOCATION_THRESHOLD_PROP = "offheap.largeAllocationThresholdBytes";
    /** Property for {@link #leakDetection(LeakDetection)}: off, sampled or paranoid; default off. */
    public static final String LEAK_DETECTION_PROP = "offheap.leakDetection";
    /** Property for {@link #leakSampleOneIn(int)}; default {@value LeakDetection#SAMPLE_ONE_IN}. */
    public static final String LEAK_SAMPLE_ONE_IN_PROP = "offheap.leakSampleOneIn";
    /** Property for {@link #debugLevel(int)}; default 0. */
    public static final String DEBUG_LEVEL_PROP = "offheap.debugLevel";
    /** Property for {@link #jmx(boolean)}; default false ({@code -Doffheap.jmx=true} turns JMX on, no code change). */
    public static final String JMX_PROP = "offheap.jmx";

    private static final AtomicInteger INSTANCES = new AtomicInteger();

    private String name;
    private long maxBytes = Long.getLong(MAX_BYTES_PROP, MAX_BYTES_DEFAULT);
    private MemorySource memorySource = MemorySource.reserved();
    private boolean threadCaching = Boolean.parseBoolean(System.getProperty(THREAD_CACHING_PROP, "true"));
    private long decayMillis = Long.getLong(DECAY_MILLIS_PROP, DECAY_MILLIS_DEFAULT);
    private int debugLevel = Integer.getInteger(DEBUG_LEVEL_PROP, 0);
    private long largeAllocationThresholdBytes = Long.getLong(LARGE_ALLOCATION_THRESHOLD_PROP, 1L << 20);
    private LeakDetection leakDetection = LeakDetection.valueOf(
            System.getProperty(LEAK_DETECTION_PROP, "off").toUpperCase(java.util.Locale.ROOT));
    private int leakSampleOneIn = Integer.getInteger(LEAK_SAMPLE_ONE_IN_PROP, LeakDetection.SAMPLE_ONE_IN);
    private boolean jmx = Boolean.parseBoolean(System.getProperty(JMX_PROP, "false"));

    /** A configuration with every setting at its default (or its system property's value). */
    public OffHeapAllocatorConfig() {
    }

    /** The name in messages, logs and metrics; default {@code offheap-N}. */
    public OffHeapAllocatorConfig name(String name) {
        this.name = Objects.requireNonNull(name, "name");
        return this;
    }

    /**
     * The hard cap on committed memory: the pages that may be resident (in slabs, huge blocks, written parts of
     * medium chunks, and free pages not yet handed back to the OS) never exceed it; it is checked before a page
     * is committed, and at the cap the allocator first takes back what needs no other thread's help (free pages,
     * empty slabs, dead threads' caches, the medium stash) before it refuses. Usable to the end: the address space
     * reserved is about four times this, so a refusal below it for want of a contiguous run does not happen. For
     * a caller's region or an arena, which are committed whole, the range's size if that is smaller.
     */
    public OffHeapAllocatorConfig maxBytes(long maxBytes) {
        this.maxBytes = maxBytes;
        return this;
    }

    /** Where memory comes from; default {@link MemorySource#reserved()}. */
    public OffHeapAllocatorConfig memorySource(MemorySource memorySource) {
        this.memorySource = Objects.requireNonNull(memorySource, "memorySource");
        return this;
    }

    /**
     * Whether each platform thread gets its own cache (the fast path, no lock); when off, every thread uses
     * the shared, locked caches that virtual threads always use.
     */
    public OffHeapAllocatorConfig threadCaching(boolean threadCaching) {
        this.threadCaching = threadCaching;
        return this;
    }

    /**
     * How long free pages stay committed before they go back to the OS; 0 returns them at the next purge
     * tick (every 50 ms at the shortest), -1 never (only {@link OffHeapAllocator#trim()}).
     */
    public OffHeapAllocatorConfig decayMillis(long decayMillis) {
        this.decayMillis = decayMillis;
        return this;
    }

    /**
     * 0: checks that are always on (O(1) rejection of bad addresses and double frees). 1, for tests and staging:
     * small blocks get canary bytes after their requested size (checked at free and by
     * {@link OffHeapAllocator#verify()}: overflows, and underflows into the block before), freed small blocks are
     * poisoned and held in a quarantine of up to 1,024 blocks / 4 MiB before reuse (a write after free is found
     * when the block leaves it, by {@code verify()}, or at reuse), {@code usableSize} is exactly the size asked
     * for, and the fast paths are off. Its cost is measured by the harness (peer {@code offheap-debug}).
     */
    public OffHeapAllocatorConfig debugLevel(int debugLevel) {
        this.debugLevel = debugLevel;
        return this;
    }

    /**
     * Allocations of at least this many bytes emit a {@code dev.offheap.allocator.LargeAllocation} JFR event
     * with their stack trace (when the event is enabled); default 1 MiB.
     */
    public OffHeapAllocatorConfig largeAllocationThresholdBytes(long largeAllocationThresholdBytes) {
        this.largeAllocationThresholdBytes = largeAllocationThresholdBytes;
        return this;
    }

    /** How many allocations record their stack, for {@link OffHeapAllocator#liveBlocks()}; default off. */
    public OffHeapAllocatorConfig leakDetection(LeakDetection leakDetection) {
        this.leakDetection = Objects.requireNonNull(leakDetection, "leakDetection");
        return this;
    }

    /**
     * With {@link LeakDetection#SAMPLED}: one allocation in this many, at random, records its stack; default
     * {@value LeakDetection#SAMPLE_ONE_IN}. 1 records every one, as {@code PARANOID} does.
     */
    public OffHeapAllocatorConfig leakSampleOneIn(int leakSampleOneIn) {
        this.leakSampleOneIn = leakSampleOneIn;
        return this;
    }

    /**
     * Whether the allocator registers its {@link OffHeapAllocatorMXBean} with the platform MBean server; default
     * false, or the {@value #JMX_PROP} system property. Off by default, as in Ehcache, HikariCP, Hazelcast and
     * OHC: registering starts the platform MBean server in a JVM that uses no JMX otherwise, about 3 MB of resident
     * memory and its start-up time (sqlite's trace replay, three runs each: 21.5-24.2 MB of resident growth with
     * JMX, 17.5-21.4 without).
     * {@link OffHeapAllocator#stats()}, {@link OffHeapAllocator#report()}, the JFR events and the logs work
     * either way.
     */
    public OffHeapAllocatorConfig jmx(boolean jmx) {
        this.jmx = jmx;
        return this;
    }

    public boolean jmx() {
        return jmx;
    }

    public int leakSampleOneIn() {
        return leakSampleOneIn;
    }

    public LeakDetection leakDetection() {
        return leakDetection;
    }

    public long largeAllocationThresholdBytes() {
        return largeAllocationThresholdBytes;
    }

    public String name() {
        return name;
    }

    public long maxBytes() {
        return maxBytes;
    }

    public MemorySource memorySource() {
        return memorySource;
    }

    public boolean threadCaching() {
        return threadCaching;
    }

    public long decayMillis() {
        return decayMillis;
    }

    public int debugLevel() {
        return debugLevel;
    }

    /**
     * Fills the defaults and checks every setting.
     *
     * @throws IllegalArgumentException naming the setting, its value and what it must be
     */
    public OffHeapAllocatorConfig conclude() {
        if (name == null) {
            name = "offheap-" + INSTANCES.incrementAndGet();
        }
        if (maxBytes < PageBuddy.PAGE_BYTES * 4 || maxBytes > 1L << 46) {
            throw new IllegalArgumentException("maxBytes(" + maxBytes + "): must be between "
                    + PageBuddy.PAGE_BYTES * 4 + " (four " + PageBuddy.PAGE_BYTES / 1024 + " KiB pages) and 2^46");
        }
        if (decayMillis < -1) {
            throw new IllegalArgumentException("decayMillis(" + decayMillis + "): must be >= 0, or -1 for never");
        }
        if (largeAllocationThresholdBytes <= GlobalHeap.SMALL_MAX) {
            throw new IllegalArgumentException("largeAllocationThresholdBytes(" + largeAllocationThresholdBytes
                    + "): must be above " + GlobalHeap.SMALL_MAX + ", the largest size served by the fast path");
        }
        if (debugLevel < 0 || debugLevel > 1) {
            throw new IllegalArgumentException("debugLevel(" + debugLevel + "): must be 0 (off) or 1 (canaries,"
                    + " poison and quarantine)");
        }
        if (leakSampleOneIn < 1) {
            throw new IllegalArgumentException("leakSampleOneIn(" + leakSampleOneIn + "): must be at least 1 (every"
                    + " allocation)");
        }
        return this;
    }

    @Override
    public String toString() {
        return "name=" + name + ", maxBytes=" + maxBytes + ", memorySource=" + memorySource + ", threadCaching="
                + threadCaching + ", decayMillis=" + decayMillis + ", debugLevel=" + debugLevel
                + ", largeAllocationThresholdBytes=" + largeAllocationThresholdBytes + ", leakDetection=" + leakDetection
                + (leakDetection == LeakDetection.SAMPLED ? " (1 in " + leakSampleOneIn + ")" : "") + ", jmx=" + jmx;
    }
}
