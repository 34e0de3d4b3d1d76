package dev.offheap.allocator.offheap;

import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * The one configuration object of an {@link OffHeapAllocator}: an immutable value with unit-suffixed names,
 * each setting with a system property that gives its default, and {@link #conclude()} to validate. Each setting
 * returns a new configuration and leaves this one as it was, so that a configuration can be kept as a template,
 * shared between threads and handed to other code without changing behind anyone's back.
 *
 * <pre>{@code
 * OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig()
 *         .name("values")
 *         .maxBytes(8L << 30)
 *         .decayMillis(2_000));
 * }</pre>
 *
 * <p>Immutable, so thread-safe. A setting's result must be used: {@code config.maxBytes(n);} alone changes nothing.
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

    /** The settings: a fresh copy is written before it is wrapped, then never again. */
    private final Settings settings;

    /** Every setting, mutable only while a new configuration is being made ({@link #with}). */
    private static final class Settings implements Cloneable {
        String name;
        long maxBytes = Long.getLong(MAX_BYTES_PROP, MAX_BYTES_DEFAULT);
        MemorySource memorySource = MemorySource.reserved();
        boolean threadCaching = Boolean.parseBoolean(System.getProperty(THREAD_CACHING_PROP, "true"));
        long decayMillis = Long.getLong(DECAY_MILLIS_PROP, DECAY_MILLIS_DEFAULT);
        int debugLevel = Integer.getInteger(DEBUG_LEVEL_PROP, 0);
        long largeAllocationThresholdBytes = Long.getLong(LARGE_ALLOCATION_THRESHOLD_PROP, 1L << 20);
        LeakDetection leakDetection = LeakDetection.valueOf(
                System.getProperty(LEAK_DETECTION_PROP, "off").toUpperCase(Locale.ROOT));
        int leakSampleOneIn = Integer.getInteger(LEAK_SAMPLE_ONE_IN_PROP, LeakDetection.SAMPLE_ONE_IN);
        boolean jmx = Boolean.parseBoolean(System.getProperty(JMX_PROP, "false"));

        Settings copy() {
            try {
                return (Settings) clone(); // every field a value or an immutable object
            } catch (CloneNotSupportedException e) {
                throw new AssertionError(e);
            }
        }
    }

    /** A configuration with every setting at its default (or its system property's value). */
    public OffHeapAllocatorConfig() {
        this(new Settings());
    }

    private OffHeapAllocatorConfig(Settings settings) {
        this.settings = settings; // final: the settings written before are seen by every thread that sees this
    }

    /** A new configuration: this one's settings with {@code change} applied to a copy. */
    private OffHeapAllocatorConfig with(Consumer<Settings> change) {
        Settings copy = settings.copy();
        change.accept(copy);
        return new OffHeapAllocatorConfig(copy);
    }

    /** The name in messages, logs and metrics; default {@code offheap-N}. */
    public OffHeapAllocatorConfig name(String name) {
        Objects.requireNonNull(name, "name");
        return with(s -> s.name = name);
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
        return with(s -> s.maxBytes = maxBytes);
    }

    /** Where memory comes from; default {@link MemorySource#reserved()}. */
    public OffHeapAllocatorConfig memorySource(MemorySource memorySource) {
        Objects.requireNonNull(memorySource, "memorySource");
        return with(s -> s.memorySource = memorySource);
    }

    /**
     * Whether each platform thread gets its own cache (the fast path, no lock); when off, every thread uses
     * the shared, locked caches that virtual threads always use.
     */
    public OffHeapAllocatorConfig threadCaching(boolean threadCaching) {
        return with(s -> s.threadCaching = threadCaching);
    }

    /**
     * How long free pages stay committed before they go back to the OS; 0 returns them at the next purge
     * tick (every 50 ms at the shortest), -1 never (only {@link OffHeapAllocator#trim()}).
     */
    public OffHeapAllocatorConfig decayMillis(long decayMillis) {
        return with(s -> s.decayMillis = decayMillis);
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
        return with(s -> s.debugLevel = debugLevel);
    }

    /**
     * Allocations of at least this many bytes emit a {@code dev.offheap.allocator.LargeAllocation} JFR event
     * with their stack trace (when the event is enabled); default 1 MiB.
     */
    public OffHeapAllocatorConfig largeAllocationThresholdBytes(long largeAllocationThresholdBytes) {
        return with(s -> s.largeAllocationThresholdBytes = largeAllocationThresholdBytes);
    }

    /** How many allocations record their stack, for {@link OffHeapAllocator#liveBlocks()}; default off. */
    public OffHeapAllocatorConfig leakDetection(LeakDetection leakDetection) {
        Objects.requireNonNull(leakDetection, "leakDetection");
        return with(s -> s.leakDetection = leakDetection);
    }

    /**
     * With {@link LeakDetection#SAMPLED}: one allocation in this many, at random, records its stack; default
     * {@value LeakDetection#SAMPLE_ONE_IN}. 1 records every one, as {@code PARANOID} does.
     */
    public OffHeapAllocatorConfig leakSampleOneIn(int leakSampleOneIn) {
        return with(s -> s.leakSampleOneIn = leakSampleOneIn);
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
        return with(s -> s.jmx = jmx);
    }

    public boolean jmx() {
        return settings.jmx;
    }

    public int leakSampleOneIn() {
        return settings.leakSampleOneIn;
    }

    public LeakDetection leakDetection() {
        return settings.leakDetection;
    }

    public long largeAllocationThresholdBytes() {
        return settings.largeAllocationThresholdBytes;
    }

    public String name() {
        return settings.name;
    }

    public long maxBytes() {
        return settings.maxBytes;
    }

    public MemorySource memorySource() {
        return settings.memorySource;
    }

    public boolean threadCaching() {
        return settings.threadCaching;
    }

    public long decayMillis() {
        return settings.decayMillis;
    }

    public int debugLevel() {
        return settings.debugLevel;
    }

    /**
     * Checks every setting.
     *
     * @return this configuration if it has a name, else a copy named {@code offheap-N}
     * @throws IllegalArgumentException naming the setting, its value and what it must be
     */
    public OffHeapAllocatorConfig conclude() {
        long maxBytes = settings.maxBytes;
        long decayMillis = settings.decayMillis;
        long largeAllocationThresholdBytes = settings.largeAllocationThresholdBytes;
        int debugLevel = settings.debugLevel;
        int leakSampleOneIn = settings.leakSampleOneIn;
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
        return settings.name != null ? this : name("offheap-" + INSTANCES.incrementAndGet());
    }

    @Override
    public String toString() {
        Settings s = settings;
        return "name=" + s.name + ", maxBytes=" + s.maxBytes + ", memorySource=" + s.memorySource
                + ", threadCaching=" + s.threadCaching + ", decayMillis=" + s.decayMillis + ", debugLevel="
                + s.debugLevel + ", largeAllocationThresholdBytes=" + s.largeAllocationThresholdBytes
                + ", leakDetection=" + s.leakDetection
                + (s.leakDetection == LeakDetection.SAMPLED ? " (1 in " + s.leakSampleOneIn + ")" : "")
                + ", jmx=" + s.jmx;
    }
}
