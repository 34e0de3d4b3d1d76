package dev.offheap.allocator.cache;

import dev.offheap.allocator.OffHeapOutOfMemoryException;
import dev.offheap.allocator.offheap.OffHeapAllocator;
import dev.offheap.allocator.offheap.OffHeapAllocatorConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.StampedLock;
import java.util.function.Function;

import static dev.offheap.allocator.cache.EntryLayout.HEADER_BYTES;

/**
 * A concurrent key-value cache whose entries (keys and values as bytes) live off-heap, in blocks of an
 * {@link OffHeapAllocator}, with W-TinyLFU eviction, optional time to live, and lock-free reads.
 *
 * <pre>{@code
 * try (OffHeapCache cache = OffHeapCache.create(new OffHeapCacheConfig().capacityBytes(1L << 30))) {
 *     cache.put(key, value);
 *     byte[] hit = cache.get(key);                     // null on a miss
 *     long n = cache.get(key, buffer);                 // into a caller's segment: length, or -1
 * }
 * }</pre>
 *
 * <h2>Glossary</h2>
 * <dl>
 *   <dt>entry</dt><dd>one allocator block: header, key, value ({@link EntryLayout}); no Java object per entry</dd>
 *   <dt>segment</dt><dd>a stripe chosen by the key hash's high bits: its own index, share of the capacity,
 *       policy and {@link java.util.concurrent.locks.StampedLock} ({@link CacheSegment})</dd>
 *   <dt>index</dt><dd>per segment, open addressing over a table of 16-byte slots (entry address, full hash) in
 *       one block of the same allocator: off the heap, as the entries are (the frequency sketch's counters are
 *       what stays on the heap, 8 bytes per expected entry)</dd>
 *   <dt>weight</dt><dd>what an entry costs: its block's usable size (header + key + value, rounded to the
 *       size class), so {@code capacityBytes} bounds the entries' blocks, not their payload</dd>
 *   <dt>window / probation / protected</dt><dd>W-TinyLFU's three LRU queues, linked through entry headers</dd>
 * </dl>
 *
 * <h2>Layout</h2>
 * <pre>
 *   segments[hash >>> 32 &amp; (n - 1)] --&gt; CacheSegment { lock, CacheIndex{table}, queues, sketch }
 *   table block (allocator): | address | hash | address | hash | ... |   slot (hash &amp; mask) + probes
 *                                  `--&gt; entry in the allocator's range
 *   entry: | hash | prev | next | expiresAt | keyBytes | valueBytes | queue | weight | key | value |
 * </pre>
 *
 * <h2>Invariants</h2>
 * <ul>
 *   <li>per segment, under its lock: {@code weight <= maxWeight <= capacityBytes / segments} and
 *       {@code count <= maxEntries / segments} after every write ({@code maxWeight} is the full share scaled by
 *       the {@link MemoryBudget});</li>
 *   <li>an entry is reachable from exactly one index slot and one queue; it is freed only after both links
 *       are gone, under the write lock, so a reader either validates a stamp taken before the unlink (and then
 *       the entry was whole during its copy) or retries;</li>
 *   <li>an expired entry is never returned; it is freed when a read or write meets it, when it reaches the
 *       eviction end, or on {@link #cleanUp()}.</li>
 * </ul>
 *
 * <h2>Read ({@link #get(MemorySegment, MemorySegment)})</h2>
 * <ol>
 *   <li>hash the key (64-bit, murmur-style over 8-byte words); pick the segment.</li>
 *   <li>take an optimistic stamp; probe the index; compare hash, then length, then bytes
 *       ({@code MemorySegment.mismatch} against the range, no slice); copy the value out.</li>
 *   <li>validate the stamp: a writer in between means retry (twice optimistically, then under the read lock).
 *       Every read of the range is bounds-checked, so a stale address costs a retry, never a fault.</li>
 *   <li>note the hit in the segment's lossy read ring for the policy; no queue is touched.</li>
 * </ol>
 *
 * <h2>Write ({@link #put(MemorySegment, MemorySegment)})</h2>
 * <ol>
 *   <li>allocate the entry and write header, key and value <em>outside</em> the lock (a 1 MiB copy does not
 *       block the segment); if the allocator is at its cap, evict from the segments in turn and retry.</li>
 *   <li>under the write lock: drain the read ring, index the entry (replacing and freeing an old one), put it
 *       at the window's head, and let the policy evict down to capacity.</li>
 * </ol>
 *
 * <h2>Why W-TinyLFU</h2>
 * Cache workloads are mostly skewed (Zipfian) with bursts of one-time keys (scans, crawlers). Plain LRU lets a
 * burst flush the hot set; TinyLFU admits a newcomer to the main space only if a 4-bit count-min sketch says it
 * is seen more often than the entries it would displace (here: all of them together, since entries differ in
 * size by up to 4 orders of magnitude), while the small LRU window lets recency-bursty keys build up a count
 * first. It matches or beats LRU, ARC and LIRS on the published traces (Einziger, Friedman,
 * Manes, "TinyLFU", 2017) at 8 bytes of sketch per expected entry. The window's share moves by hill climbing,
 * as Caffeine's does ({@link CacheSegment}). What is not done here: Caffeine's random admission of warm
 * candidates against hash flooding.
 *
 * <h2>What the cache costs</h2>
 * The entries' weights are not all a cache costs: evictions free blocks at random places, and the allocator keeps
 * the partly used slabs they leave (a slab goes back only when all its blocks are freed), about 1.3x the live
 * blocks under random replacement, as jemalloc, mimalloc and tcmalloc do (glibc 3.4x: the harness's churn
 * workload); the index takes 21-43 bytes an entry
 * besides ({@link CacheStats#indexBytes()}), in the same allocator. So with an allocator of its own the cache
 * holds that allocator's committed memory, not the weights, to {@code capacityBytes} (plus 16 MiB for the
 * allocator's own: a slab per size class and thread, pages waiting for the purge): its {@link MemoryBudget}
 * lowers the bound on the weights (down to half the capacity) while the allocator would commit more
 * ({@link CacheStats#weightLimitBytes()} shows the bound). The price is entries: in the harness's cache workload
 * they weighed 0.69-0.82 of the capacity in the README runs. With a shared allocator, or one over a caller's
 * region, only the weights are bounded, and the allocator's {@code maxBytes} bounds the rest.
 *
 * <p><b>Threads.</b> Every method is thread-safe. {@link #close()} while other threads still use the cache is
 * misuse: they get {@link IllegalStateException}, never a crash.
 */
public final class OffHeapCache implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(OffHeapCache.class);
    private static final int OPTIMISTIC_TRIES = 2;
    /** Spins a read or a write waits at most for the lock's holder to let go, before it parks in the lock. */
    private static final int WRITER_SPINS = 256;

    private final String name;
    private final OffHeapAllocator allocator;
    private final boolean ownsAllocator;
    /** Holds the allocator's committed memory to the capacity by bounding the entries' weight below it. */
    private final MemoryBudget budget;
    private final CacheSegment[] segments;
    private final int segmentMask;
    private final long capacityBytes;
    private final int maxValueBytes;
    private final int maxKeyBytes;
    private final long defaultTtlNanos;
    private final Ticker ticker;
    private final LongAdder hits = new LongAdder();
    private final LongAdder misses = new LongAdder();
    /** The loads {@link #get(byte[], Function)} is running, one per key. */
    private final InFlightLoads loads = new InFlightLoads();
    private volatile boolean closed;
    /**
     * Whether any entry may have a time to live (a default one, or one given to a put): until then the write
     * paths do not read the clock ({@link CacheSegment#NOT_READ}), as the reads never do without a TTL. Plain, not
     * volatile: it only ever turns true, and a thread that still reads false checks a deadline it meets against
     * the clock read on the spot ({@link #now()}), so no ordering is needed and a put pays no volatile read.
     */
    private boolean timed;

    private OffHeapCache(OffHeapCacheConfig config) {
        this.name = config.name();
        this.capacityBytes = config.capacityBytes();
        this.maxValueBytes = config.maxValueBytes();
        this.maxKeyBytes = config.maxKeyBytes();
        this.defaultTtlNanos = config.defaultTimeToLive().toNanos();
        this.ticker = config.ticker();
        this.timed = defaultTtlNanos != 0;
        if (config.allocator() != null) {
            this.allocator = config.allocator();
            this.ownsAllocator = false;
        } else {
            OffHeapAllocatorConfig allocatorConfig = config.allocatorConfig() != null
                    ? config.allocatorConfig() : new OffHeapAllocatorConfig();
            // The budget holds the committed memory to the capacity by shrinking the entries' bound, a step at a
            // time; the cap is the hard ceiling behind it (at the cap a write evicts and retries, which is slow):
            // above the budget's overshoot, and room for entries held to half the capacity at 2x fragmentation.
            this.allocator = OffHeapAllocator.create(allocatorConfig.name(name)
                    .maxBytes(2 * capacityBytes + (32L << 20)));
            this.ownsAllocator = true;
        }
        // A region the caller gave the allocator counts as committed whole (nothing there goes back to the OS):
        // its figure would only shrink the entries.
        boolean commitsWhole = allocator.committedBytes() >= allocator.range().byteSize();
        this.budget = ownsAllocator && !commitsWhole ? MemoryBudget.following(name, allocator, capacityBytes)
                : MemoryBudget.fixed();
        int n = config.segments();
        this.segments = new CacheSegment[n];
        this.segmentMask = n - 1;
        long maxCountPerSegment = config.maxEntries() == Long.MAX_VALUE
                ? Long.MAX_VALUE : Math.max(1, config.maxEntries() / n);
        for (int i = 0; i < n; i++) {
            segments[i] = new CacheSegment(allocator, capacityBytes / n, maxCountPerSegment, maxValueBytes, ticker,
                    config.removalListener(), budget);
        }
        LOG.info("OffHeapCache '{}' created: {}", name, config);
    }

    /** A cache with the default configuration (64 MiB, no TTL, its own allocator). */
    public static OffHeapCache create() {
        return create(new OffHeapCacheConfig());
    }

    /** A cache with {@code config}, which is {@linkplain OffHeapCacheConfig#conclude() concluded}. */
    public static OffHeapCache create(OffHeapCacheConfig config) {
        return new OffHeapCache(config.conclude());
    }

    // ---------------------------------------------------------------------------------------------------------
    // Reads

    /** The value for {@code key}, or null. */
    public byte[] get(byte[] key) {
        Keys.check(key);
        try {
            return getArray(key);
        } catch (IllegalStateException e) {
            throw closedUnder("get", e);
        }
    }

    /**
     * The value for {@code key}, loaded on a miss: {@code loader} gets the key and returns the value to store
     * (with the default time to live) and return, or null to store nothing and return null. The loader runs
     * outside every lock of the cache, so it may be slow (a database read). Threads that miss the same key at
     * once run its loader once: one loads, the others wait for its value ({@link InFlightLoads}), as with
     * Caffeine's {@code get(key, function)}; loads of other keys go on meanwhile. If the loader throws, its
     * caller gets the exception, nothing is stored, and a thread that was waiting loads again itself. The
     * loader must not use this cache ({@link IllegalStateException} if it asks for the key it is loading).
     *
     * @throws IllegalArgumentException if the loaded value is larger than {@code maxValueBytes}, nothing stored
     */
    public byte[] get(byte[] key, Function<byte[], byte[]> loader) {
        Objects.requireNonNull(loader, "loader");
        byte[] hit = get(key);
        if (hit != null) {
            return hit;
        }
        return loads.get(key, this::peek, k -> {
            byte[] loaded = loader.apply(k.clone()); // a copy: the loader cannot change the caller's key
            if (loaded == null || putIfAbsent(k, loaded)) {
                return loaded;
            }
            byte[] winner = peek(k); // a plain put stored one meanwhile (or the write was refused: ours stands)
            return winner != null ? winner : loaded;
        });
    }

    /** The value for {@code key}, or null, counted neither as a hit nor as a miss. */
    private byte[] peek(byte[] key) {
        Keys.check(key);
        try {
            return getArray(key, false);
        } catch (IllegalStateException e) {
            throw closedUnder("get", e);
        }
    }

    private byte[] getArray(byte[] key) {
        return getArray(key, true);
    }

    /**
     * A read's stamp for its {@code attempt}: optimistic for the first {@value #OPTIMISTIC_TRIES}, after a short
     * bounded spin while a writer holds the lock (a write holds it for a microsecond or two; parking in
     * {@code readLock} and being woken cost more), then the read lock, which waits.
     */
    private static long readStamp(StampedLock lock, int attempt) {
        if (attempt >= OPTIMISTIC_TRIES) {
            return lock.readLock();
        }
        long stamp = lock.tryOptimisticRead();
        for (int spin = 0; stamp == 0 && spin < WRITER_SPINS; spin++) {
            Thread.onSpinWait();
            stamp = lock.tryOptimisticRead();
        }
        return stamp;
    }

    /** The write lock for a put, compute or remove: as {@link #readStamp}, a short bounded spin, then waiting. */
    private static long writeStamp(StampedLock lock) {
        for (int spin = 0; spin < WRITER_SPINS; spin++) {
            long stamp = lock.tryWriteLock();
            if (stamp != 0) {
                return stamp;
            }
            Thread.onSpinWait();
        }
        return lock.writeLock();
    }

    private byte[] getArray(byte[] key, boolean counted) {
        long hash = Keys.hash(key);
        CacheSegment s = segmentFor(hash);
        for (int attempt = 0; ; attempt++) {
            long stamp = readStamp(s.lock, attempt);
            try {
                long address = s.find(hash, null, key, key.length);
                if (address == CacheSegment.CLOSED_ENTRY) {
                    throw closed("get");
                }
                byte[] value = null;
                if (address != 0 && !s.expiredNow(address)) {
                    long length = s.valueBytes(address);
                    if (length >= 0) {
                        value = new byte[(int) length];
                        s.copyValue(address, value);
                    } else {
                        address = 0;
                    }
                }
                if (s.lock.validate(stamp)) {
                    if (counted) {
                        counted(s, address, value != null);
                    }
                    return value;
                }
            } finally {
                if (attempt >= OPTIMISTIC_TRIES) {
                    s.lock.unlockRead(stamp);
                }
            }
        }
    }

    /** Copies the value for {@code key} into {@code dst}; see {@link #get(MemorySegment, MemorySegment)}. */
    public long get(byte[] key, MemorySegment dst) {
        Keys.check(key);
        return get(null, key, key.length, dst);
    }

    /**
     * Copies the value for {@code key} into {@code dst} from offset 0, if it fits.
     *
     * @return the value's length, or -1 on a miss. A value longer than {@code dst} is not copied (its length
     *         is returned, so the caller can retry with a larger segment); bytes of {@code dst} past the
     *         returned length, and all of them on a miss, may have been overwritten
     */
    public long get(MemorySegment key, MemorySegment dst) {
        Keys.check(key);
        return get(key, null, key.byteSize(), dst);
    }

    /** The read path, for a key given as a segment or else as an array (no object made for either). */
    private long get(MemorySegment key, byte[] keyArray, long keyBytes, MemorySegment dst) {
        Objects.requireNonNull(dst, "dst");
        if (dst.isReadOnly()) {
            throw new IllegalArgumentException("get(key, dst): dst is read-only");
        }
        try {
            return getInto(key, keyArray, keyBytes, dst);
        } catch (IllegalStateException e) {
            throw closedUnder("get", e);
        }
    }

    private long getInto(MemorySegment key, byte[] keyArray, long keyBytes, MemorySegment dst) {
        long hash = key != null ? Keys.hash(key) : Keys.hash(keyArray);
        CacheSegment s = segmentFor(hash);
        for (int attempt = 0; ; attempt++) {
            long stamp = readStamp(s.lock, attempt);
            try {
                long address = s.find(hash, key, keyArray, keyBytes);
                if (address == CacheSegment.CLOSED_ENTRY) {
                    throw closed("get");
                }
                long length = -1;
                if (address != 0 && !s.expiredNow(address)) {
                    length = s.valueBytes(address);
                    if (length >= 0 && length <= dst.byteSize()) {
                        s.copyValue(address, length, dst, 0);
                    }
                }
                if (s.lock.validate(stamp)) {
                    counted(s, address, length >= 0);
                    return length;
                }
            } finally {
                if (attempt >= OPTIMISTIC_TRIES) {
                    s.lock.unlockRead(stamp);
                }
            }
        }
    }

    /**
     * Copies the value for {@code key} into {@code dst} at its position, advancing it, if the value fits in its
     * remaining space; see {@link #get(MemorySegment, MemorySegment)} for the result.
     */
    public long get(byte[] key, ByteBuffer dst) {
        if (dst.isReadOnly()) {
            throw new IllegalArgumentException("get(key, dst): dst is read-only");
        }
        Keys.check(key);
        long length = get(null, key, key.length, MemorySegment.ofBuffer(dst));
        if (length >= 0 && length <= dst.remaining()) {
            dst.position(dst.position() + (int) length);
        }
        return length;
    }

    /** True if a live entry for {@code key} is present (does not count as a hit or a miss). */
    public boolean containsKey(byte[] key) {
        Keys.check(key);
        long hash = Keys.hash(key);
        CacheSegment s = segmentFor(hash);
        long stamp = s.lock.readLock();
        try {
            long address = s.find(hash, null, key, key.length);
            if (address == CacheSegment.CLOSED_ENTRY) {
                throw closed("containsKey");
            }
            return address != 0 && !s.expiredNow(address);
        } catch (IllegalStateException e) {
            throw closedUnder("containsKey", e);
        } finally {
            s.lock.unlockRead(stamp);
        }
    }

    private void counted(CacheSegment s, long address, boolean hit) {
        if (hit) {
            hits.increment();
            s.recordRead(address);
        } else {
            misses.increment();
            if (address != 0) {
                s.recordExpiredRead(address); // a drain under the write lock frees it
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Writes

    /** Stores {@code value} under {@code key} with the default time to live. */
    public boolean put(byte[] key, byte[] value) {
        Keys.check(key);
        checkValue(value);
        return put(null, key, key.length, null, value, value.length, defaultTtlNanos, false);
    }

    /** Stores {@code value} under {@code key}, expiring after {@code timeToLive} ({@code ZERO}: never). */
    public boolean put(byte[] key, byte[] value, Duration timeToLive) {
        Keys.check(key);
        checkValue(value);
        return put(null, key, key.length, null, value, value.length, ttl(timeToLive), false);
    }

    /**
     * Stores {@code value} (all of the segment, copied) under {@code key} with the default time to live,
     * replacing any value there.
     *
     * @return true if stored; false if refused because the allocator had no memory for it even after evicting
     *         (then nothing changed). A stored entry may still be evicted by the policy at once, when it is seen
     *         less often than everything it would displace.
     * @throws IllegalArgumentException for an empty or over-64-KiB key, or a value over {@code maxValueBytes}
     */
    public boolean put(MemorySegment key, MemorySegment value) {
        Keys.check(key);
        checkValue(value);
        return put(key, null, key.byteSize(), value, null, value.byteSize(), defaultTtlNanos, false);
    }

    /** Stores {@code value} under {@code key}, expiring after {@code timeToLive} ({@code ZERO}: never). */
    public boolean put(MemorySegment key, MemorySegment value, Duration timeToLive) {
        Keys.check(key);
        checkValue(value);
        return put(key, null, key.byteSize(), value, null, value.byteSize(), ttl(timeToLive), false);
    }

    /**
     * Stores {@code value} under {@code key} unless a live entry is there.
     *
     * @return true if stored, false if a value was present (or memory was refused)
     */
    public boolean putIfAbsent(byte[] key, byte[] value) {
        Keys.check(key);
        checkValue(value);
        return put(null, key, key.length, null, value, value.length, defaultTtlNanos, true);
    }

    /** As {@link #putIfAbsent(byte[], byte[])}, from segments. */
    public boolean putIfAbsent(MemorySegment key, MemorySegment value) {
        Keys.check(key);
        checkValue(value);
        return put(key, null, key.byteSize(), value, null, value.byteSize(), defaultTtlNanos, true);
    }

    /** The write path; key and value each given as a segment or else an array (checked by the caller). */
    private boolean put(MemorySegment key, byte[] keyArray, long keyBytes, MemorySegment value, byte[] valueArray,
                        long valueBytes, long ttlNanos, boolean onlyIfAbsent) {
        checkKeyLength(keyBytes);
        ensureOpen("put");
        long hash = key != null ? Keys.hash(key) : Keys.hash(keyArray);
        CacheSegment s = segmentFor(hash);
        long entry = allocateEntry(hash, keyBytes + valueBytes);
        if (entry == 0) {
            return false;
        }
        if (ttlNanos != 0 && !timed) {
            timed = true; // before the entry with a deadline is published: see now()
        }
        long now = now();
        s.writeEntry(entry, hash, key, keyArray, keyBytes, value, valueArray, valueBytes, expiresAt(now, ttlNanos));
        s.drainBeforeWrite();
        boolean stored;
        long stamp = writeStamp(s.lock);
        try {
            stored = s.insert(hash, key, keyArray, keyBytes, entry, onlyIfAbsent, now);
        } finally {
            s.lock.unlockWrite(stamp);
        }
        if (!stored) {
            allocator.free(entry);
        }
        return stored;
    }

    /**
     * Updates the entry for {@code key} under its segment's write lock: {@code remapping} gets the current
     * value (a read-only segment valid only during the call, or null if absent) and returns the new value, or
     * null to remove the entry. It must be quick and must not use this cache. A replaced entry keeps its time to
     * live (its deadline stays where it was); a new one gets the default.
     *
     * @return the new value, or null if the entry is now absent (removed, or refused for lack of memory)
     */
    public byte[] compute(byte[] key, Function<MemorySegment, byte[]> remapping) {
        Keys.check(key);
        checkKeyLength(key.length);
        Objects.requireNonNull(remapping, "remapping");
        ensureOpen("compute");
        long hash = Keys.hash(key);
        CacheSegment s = segmentFor(hash);
        s.drainBeforeWrite();
        long stamp = writeStamp(s.lock);
        try {
            long now = ticker.read(); // a new entry's deadline, or the old one's: both want the time
            long old = s.findLive(hash, null, key, key.length, now);
            byte[] updated = remapping.apply(old == 0 ? null : s.value(old).asReadOnly());
            if (updated == null) {
                if (old != 0) {
                    s.remove(hash, null, key, key.length, now);
                }
                return null;
            }
            checkValue(updated);
            long entry = allocateEntryLocked(s, key.length + updated.length);
            if (entry == 0) {
                return null;
            }
            s.writeEntry(entry, hash, null, key, key.length, null, updated, updated.length,
                    old != 0 ? s.expiresAtOf(old) : expiresAt(now, defaultTtlNanos));
            if (!s.insert(hash, null, key, key.length, entry, false, now)) {
                allocator.free(entry); // the index could not grow: refused as the allocator refuses
                return null;
            }
            return updated;
        } finally {
            s.lock.unlockWrite(stamp);
        }
    }

    /** Removes the entry for {@code key}; true if a live one was there. */
    public boolean remove(byte[] key) {
        Keys.check(key);
        return remove(null, key, key.length);
    }

    /** Removes the entry for {@code key}; true if a live one was there. */
    public boolean remove(MemorySegment key) {
        Keys.check(key);
        return remove(key, null, key.byteSize());
    }

    private boolean remove(MemorySegment key, byte[] keyArray, long keyBytes) {
        ensureOpen("remove");
        long hash = key != null ? Keys.hash(key) : Keys.hash(keyArray);
        CacheSegment s = segmentFor(hash);
        s.drainBeforeWrite();
        long stamp = writeStamp(s.lock);
        try {
            return s.remove(hash, key, keyArray, keyBytes, now());
        } finally {
            s.lock.unlockWrite(stamp);
        }
    }

    /**
     * A block for an entry with {@code payload} bytes of key and value. At the allocator's cap, evicts from the
     * segments in turn (starting with the key's own) until the block fits; 0 (counted as a rejection) if even an
     * empty cache cannot hold it.
     */
    private long allocateEntry(long hash, long payload) {
        long bytes = HEADER_BYTES + payload;
        int start = segmentIndex(hash);
        for (int i = 0; ; i++) {
            try {
                return allocator.allocate(bytes);
            } catch (OffHeapOutOfMemoryException full) {
                if (i > segments.length) {
                    reject(segments[start]);
                    return 0;
                }
                CacheSegment s = segments[(start + i) & segmentMask];
                long stamp = s.lock.writeLock();
                try {
                    s.evictForAllocation(bytes);
                } finally {
                    s.lock.unlockWrite(stamp);
                }
            }
        }
    }

    /** As {@link #allocateEntry} when {@code own}'s lock is held: only {@code own} can be evicted from. */
    private long allocateEntryLocked(CacheSegment own, long payload) {
        long bytes = HEADER_BYTES + payload;
        while (true) {
            try {
                return allocator.allocate(bytes);
            } catch (OffHeapOutOfMemoryException full) {
                if (own.evictForAllocation(bytes) == 0) {
                    own.rejections++;
                    return 0;
                }
            }
        }
    }

    private void reject(CacheSegment s) {
        long stamp = s.lock.writeLock();
        try {
            s.rejections++;
        } finally {
            s.lock.unlockWrite(stamp);
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Maintenance, stats, close

    /** Frees every expired entry now (they are never returned either way); how many. */
    public long cleanUp() {
        ensureOpen("cleanUp");
        long now = ticker.read();
        long[] removed = {0};
        forEachSegmentLocked(s -> removed[0] += s.removeExpired(now));
        return removed[0];
    }

    /** Removes every entry (not counted as removals). */
    public void clear() {
        ensureOpen("clear");
        forEachSegmentLocked(CacheSegment::clear);
    }

    /** Entries now in the cache (expired ones not yet freed included); 0 once closed. */
    public long size() {
        long n = 0;
        for (CacheSegment s : segments) {
            n += s.count;
        }
        return n;
    }

    /** Blocks of the allocator that hold the index, not entries: one a segment while open (for tests). */
    int indexBlocks() {
        return closed ? 0 : segments.length;
    }

    /** The allocator's live blocks that are entries (for tests: each must be an indexed entry). */
    long entryBlocks() {
        return allocator.stats().liveBlocks() - indexBlocks();
    }

    /** Memory the entries take now: the sum of their blocks' usable sizes, at most {@code weightLimitBytes}. */
    public long weightBytes() {
        long n = 0;
        for (CacheSegment s : segments) {
            n += s.weight;
        }
        return n;
    }

    /** Counters and contents, with the allocator's stats. */
    public CacheStats stats() {
        return collect(true);
    }

    /**
     * The cache's own counters and contents, without the allocator's figures ({@link CacheStats#allocator()} is
     * null): no walk over the allocator's slabs, a read lock per segment only. What a metrics poller wants.
     */
    public CacheStats cacheStats() {
        return collect(false);
    }

    private CacheStats collect(boolean withAllocator) {
        long puts = 0, evictions = 0, expirations = 0, removals = 0, rejections = 0, entries = 0, weight = 0;
        long index = 0;
        long weightLimit = 0;
        for (CacheSegment s : segments) {
            long stamp = s.lock.readLock();
            try {
                puts += s.puts;
                evictions += s.evictions;
                expirations += s.expirations;
                removals += s.removals;
                rejections += s.rejections;
                entries += s.count;
                weight += s.weight;
                weightLimit += s.maxWeight;
                index += s.indexBytes();
            } finally {
                s.lock.unlockRead(stamp);
            }
        }
        return new CacheStats(hits.sum(), misses.sum(), puts, evictions, expirations, removals, rejections, entries,
                weight, capacityBytes, weightLimit, index, withAllocator ? allocator.stats() : null);
    }

    /** The allocator the entries live in (for its metrics: MBean, report, stats). */
    public OffHeapAllocator allocator() {
        return allocator;
    }

    public String name() {
        return name;
    }

    /**
     * Frees every entry, and closes the allocator if the cache created it. Idempotent, and it never throws: over a
     * shared allocator that was closed first, the entries went with its memory and are only forgotten.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        // A shared allocator gets its blocks back; one of our own is closed whole right after.
        boolean free = !ownsAllocator && !allocator.isClosed();
        forEachSegmentLocked(s -> s.close(free));
        if (ownsAllocator) {
            allocator.close();
        }
        LOG.info("OffHeapCache '{}' closed", name);
    }

    @Override
    public String toString() {
        return "OffHeapCache{" + name + ", " + stats() + "}";
    }

    // ---------------------------------------------------------------------------------------------------------
    // Keys, hashing, checks

    private CacheSegment segmentFor(long hash) {
        return segments[segmentIndex(hash)];
    }

    private int segmentIndex(long hash) {
        return (int) (hash >>> 32) & segmentMask;
    }

    private void checkValue(byte[] value) {
        if (value == null) {
            throw new NullPointerException("value is null: to remove an entry, call remove(key)");
        }
        checkValueLength(value.length);
    }

    private void checkValue(MemorySegment value) {
        if (value == null) {
            throw new NullPointerException("value is null: to remove an entry, call remove(key)");
        }
        checkValueLength(value.byteSize());
    }

    /** Refuses, for a write, a key over {@code maxKeyBytes} (the absolute bound is checked by {@link Keys}). */
    private void checkKeyLength(long keyBytes) {
        if (keyBytes > maxKeyBytes) {
            throw new IllegalArgumentException("key of " + keyBytes + " bytes: longer than maxKeyBytes ("
                    + maxKeyBytes + "); raise OffHeapCacheConfig.maxKeyBytes if such keys belong in the cache");
        }
    }

    /** Refuses a value over {@code maxValueBytes} with a message that names the setting. */
    void checkValueLength(long valueBytes) {
        if (valueBytes > maxValueBytes) {
            throw new IllegalArgumentException("value of " + valueBytes + " bytes: larger than maxValueBytes ("
                    + maxValueBytes + ")" + (valueBytes > capacityBytes
                    ? " and than the whole cache (" + capacityBytes + " bytes)" : "")
                    + "; raise OffHeapCacheConfig.maxValueBytes if such values belong in the cache");
        }
    }

    private static long ttl(Duration timeToLive) {
        Objects.requireNonNull(timeToLive, "timeToLive");
        if (timeToLive.isNegative()) {
            throw new IllegalArgumentException("timeToLive " + timeToLive + ": must not be negative");
        }
        return timeToLive.toNanos();
    }

    /**
     * The time for a write's expiry checks: the ticker's, or {@link CacheSegment#NOT_READ} while no entry can have a
     * deadline. An entry that got one meanwhile (another thread's put with a TTL) is checked with the clock read
     * then ({@link CacheSegment#expired}), so a stale {@code timed} costs a read, never a wrong answer.
     */
    private long now() {
        return timed ? ticker.read() : CacheSegment.NOT_READ;
    }

    private static long expiresAt(long now, long ttlNanos) {
        if (ttlNanos == 0) {
            return 0;
        }
        long at = now + ttlNanos;
        return at == 0 ? 1 : at;
    }

    private void ensureOpen(String call) {
        if (closed || allocator.isClosed()) {
            throw closed(call);
        }
    }

    private IllegalStateException closed(String call) {
        return new IllegalStateException(call + "(): cache '" + name + "' is closed"
                + (!closed && allocator.isClosed() ? ": its allocator '" + allocator.name() + "' was closed" : ""));
    }

    /**
     * A read that failed with {@code e}: the cache's own closed exception if the allocator under it was closed
     * (its memory is gone: the segment's accesses throw), else {@code e} itself.
     */
    private IllegalStateException closedUnder(String call, IllegalStateException e) {
        if (!allocator.isClosed() || closed) {
            return e;
        }
        IllegalStateException closedException = closed(call);
        closedException.initCause(e);
        return closedException;
    }

    /** Runs {@code action} on every segment under its write lock: maintenance, never the hot paths. */
    private void forEachSegmentLocked(java.util.function.Consumer<CacheSegment> action) {
        for (CacheSegment s : segments) {
            long stamp = s.lock.writeLock();
            try {
                action.accept(s);
            } finally {
                s.lock.unlockWrite(stamp);
            }
        }
    }
}
