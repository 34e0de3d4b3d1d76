package dev.offheap.allocator.cache;

import dev.offheap.allocator.offheap.OffHeapAllocator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.locks.StampedLock;

import static dev.offheap.allocator.cache.EntryLayout.EXPIRES_AT;
import static dev.offheap.allocator.cache.EntryLayout.HASH;
import static dev.offheap.allocator.cache.EntryLayout.HEADER_BYTES;
import static dev.offheap.allocator.cache.EntryLayout.KEY_BYTES;
import static dev.offheap.allocator.cache.EntryLayout.NEXT;
import static dev.offheap.allocator.cache.EntryLayout.PREV;
import static dev.offheap.allocator.cache.EntryLayout.QUEUE;
import static dev.offheap.allocator.cache.EntryLayout.VALUE_BYTES;
import static dev.offheap.allocator.cache.EntryLayout.WEIGHT;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

/**
 * One stripe of an {@link OffHeapCache}: an index of its entries, its share of the capacity, and its eviction
 * policy, all guarded by one {@link StampedLock}. See {@link OffHeapCache} for the design; this class holds the
 * mechanics.
 *
 * <p><b>Index.</b> {@link CacheIndex}: a table of slots off the heap, in a block of the cache's allocator, probed
 * by readers without the lock.
 *
 * <p><b>Policy (W-TinyLFU, adaptive window).</b> Three intrusive LRU queues linked through the entries' headers:
 * window (1% of the segment's bounds to start with), probation and protected (80% of the rest). Both bounds, weight and count, are split
 * the same way and each queue is held to both, so that a cache bounded by entries gets the same policy as one
 * bounded by bytes. New entries enter the window; the window's overflow is admitted to the main space only if
 * the {@link FrequencySketch} says it is seen more often than all the entries it would displace together (ties
 * keep the victims: one-hit wonders do not displace regulars, and one large value does not displace many small
 * ones as popular). A hit in probation promotes to protected; protected's overflow is demoted to probation.
 * The window's share moves by hill climbing, as Caffeine's does: every sample of requests (ten times the entries)
 * the segment compares its hit rate with the last sample's and steps the share the same way if it rose, the other
 * way if it fell; the step decays by 2% a sample and starts over at 6.25% when the hit rate moves by 5 points. A
 * recency-heavy phase grows the window toward an LRU, a frequency-heavy one shrinks it. Hits are the reads the
 * drain applies; misses, the puts of new keys (a read-through cache's misses). Reads do not touch the queues: they
 * append the entry's address to a lossy ring ({@code readBuffer}) that a writer drains just before it takes the
 * write lock, and a reader every 16 reads, each if it can have the <em>read</em> lock and the {@code draining}
 * flag at once, checking each address is still indexed before using it; under the write lock a writer drains
 * only if those fell half a ring behind or an expired entry waits (the write lock held for a drain of 16-64
 * entries' headers, cache misses each, made the segment's optimistic readers fail and park). A drain in read mode excludes writers and
 * other drainers, yet leaves the optimistic readers' stamps valid: it only relinks queues (header fields that
 * readers never read) and counts in the sketch, and frees nothing; an expired entry a read met waits for a
 * drain under the write lock (the next write, or a reader's try of the write lock, which {@code expiredRead}
 * asks for), and the hill climber, which may evict, runs under the write lock only.
 *
 * <p>Invariants under the lock: {@code count == entries indexed == entries in the three queues};
 * {@code weight == sum of their weights == window + probation + protected weights}; after each write
 * {@code weight <= maxWeight && count <= maxCount}, except while an entry larger than the whole segment is
 * refused before it is written.
 */
final class CacheSegment {
    private static final Logger LOG = LoggerFactory.getLogger(CacheSegment.class);
    static final int WINDOW = 0;
    static final int PROBATION = 1;
    static final int PROTECTED = 2;
    private static final int READ_BUFFER = 64;
    private static final double INITIAL_WINDOW = 0.01;
    private static final double MAX_WINDOW = 0.9;
    private static final double CLIMB_STEP = 0.0625;
    private static final double CLIMB_DECAY = 0.98;
    private static final double CLIMB_RESTART = 0.05;
    private static final int DRAIN_EVERY = 16;
    /** Puts between two looks at the cache's {@link MemoryBudget}, minus one. */
    private static final int BUDGET_CHECK_MASK = 63;
    private static final VarHandle READ_COUNT;
    private static final VarHandle DRAINING;

    static {
        try {
            READ_COUNT = MethodHandles.lookup().findVarHandle(CacheSegment.class, "readCount", long.class);
            DRAINING = MethodHandles.lookup().findVarHandle(CacheSegment.class, "draining", boolean.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    final StampedLock lock = new StampedLock();
    private final OffHeapAllocator allocator;
    private final Ticker ticker;
    /**
     * A time passed to the checks when the caller did not read the clock (no entry had a time to live): any entry
     * that has one is then checked against the clock read on the spot. A ticker that reads exactly this value
     * costs a second read, nothing more.
     */
    static final long NOT_READ = Long.MIN_VALUE;
    /** Told of removals, or null. */
    private final RemovalListener removalListener;
    /** Exceptions the listener threw (under the lock). */
    private long listenerFailures;
    private final MemorySegment range;
    private final long base;
    private final long rangeBytes;
    private final int maxValueBytes;
    /** The weight bound as configured: {@code capacityBytes / segments}. */
    private final long fullWeight;
    /** The weight bound now: {@code fullWeight} scaled by the cache's {@link MemoryBudget}. */
    long maxWeight;
    final long maxCount;
    private final MemoryBudget budget;
    /** The budget's scale {@link #maxWeight} was computed with. */
    private double appliedScale = 1.0;
    private long windowMax;
    private long protectedMax;
    private long windowMaxCount;
    private long protectedMaxCount;
    /** The hill climber (see the class comment): the window's share of both bounds, and its next step. */
    private double windowShare;
    private double stepShare = CLIMB_STEP;
    private double previousHitRate;
    private long sampleHits;
    private long sampleMisses;
    private FrequencySketch sketch;
    /** What {@link #find} returns in a closed segment; never an entry's address. */
    static final long CLOSED_ENTRY = CacheIndex.CLOSED_ENTRY;
    private final CacheIndex index;

    // Under the lock.
    int count;
    long weight;
    /** Window, probation, protected: the policy's three LRU queues. */
    private final AccessQueues queues;
    long puts;
    long evictions;
    long expirations;
    long removals;
    long rejections;

    private final long[] readBuffer = new long[READ_BUFFER];
    /** A reader drains in read mode (see the class comment); through {@code DRAINING}. */
    @SuppressWarnings("unused")
    private volatile boolean draining;
    /** A read met an expired entry: the next reader's drain takes the write lock to free it. */
    private volatile boolean expiredRead;
    @SuppressWarnings("unused") // through READ_COUNT
    private volatile long readCount;
    private long drainedTo;

    CacheSegment(OffHeapAllocator allocator, long maxWeight, long maxCount, int maxValueBytes, Ticker ticker,
                 RemovalListener removalListener, MemoryBudget budget) {
        this.allocator = allocator;
        this.ticker = ticker;
        this.removalListener = removalListener;
        this.range = allocator.range();
        this.base = range.address();
        this.rangeBytes = range.byteSize();
        this.maxValueBytes = maxValueBytes;
        this.queues = new AccessQueues(range);
        this.fullWeight = maxWeight;
        this.maxWeight = maxWeight;
        this.maxCount = maxCount;
        this.budget = budget;
        setWindowShare(INITIAL_WINDOW);
        // Sized for entries of about 1 KiB on average: 4 counters per expected entry, aged every 10 x that many reads.
        this.sketch = new FrequencySketch(Math.min(maxCount, maxWeight / 1024));
        this.index = new CacheIndex(allocator);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Reads: safe without the lock (bounds-checked, results meaningful only once the stamp validates)

    /** The entry for the key (a segment, or else an array: exactly one is non-null), or 0. */
    long find(long hash, MemorySegment key, byte[] keyArray, long keyBytes) {
        return index.find(hash, key, keyArray, keyBytes);
    }

    /** The value's length if the entry at {@code address} (found by {@link #find}) looks whole, else -1. */
    long valueBytes(long address) {
        long offset = address - base;
        int keyBytes = range.get(JAVA_INT_UNALIGNED, offset + KEY_BYTES);
        int valueBytes = range.get(JAVA_INT_UNALIGNED, offset + VALUE_BYTES);
        if (valueBytes < 0 || valueBytes > maxValueBytes || keyBytes < 0
                || offset + HEADER_BYTES + keyBytes + valueBytes > rangeBytes) {
            return -1;
        }
        return valueBytes;
    }

    /** The value as a slice of the range (no copy): valid while the entry is, so only under the lock. */
    MemorySegment value(long address) {
        long offset = address - base;
        int keyBytes = range.get(JAVA_INT_UNALIGNED, offset + KEY_BYTES);
        return range.asSlice(offset + HEADER_BYTES + keyBytes, range.get(JAVA_INT_UNALIGNED, offset + VALUE_BYTES));
    }

    /** Copies {@code valueBytes} (from {@link #valueBytes}) of the entry's value into {@code dst}. */
    void copyValue(long address, long valueBytes, MemorySegment dst, long dstOffset) {
        long offset = address - base;
        int keyBytes = range.get(JAVA_INT_UNALIGNED, offset + KEY_BYTES);
        MemorySegment.copy(range, offset + HEADER_BYTES + keyBytes, dst, dstOffset, valueBytes);
    }

    /** Copies the entry's value (its length from {@link #valueBytes}) into {@code dst}. */
    void copyValue(long address, byte[] dst) {
        long offset = address - base;
        int keyBytes = range.get(JAVA_INT_UNALIGNED, offset + KEY_BYTES);
        MemorySegment.copy(range, JAVA_BYTE, offset + HEADER_BYTES + keyBytes, dst, 0, dst.length);
    }

    /**
     * As {@link #expired(long, long)} at this moment, reading the clock only for an entry that has a time to live:
     * a cache without TTLs never reads the clock on a read.
     */
    boolean expiredNow(long address) {
        long expiresAt = expiresAtOf(address);
        return expiresAt != 0 && ticker.read() - expiresAt >= 0;
    }

    /** The entry's deadline on the cache's {@link Ticker}, 0 for none. */
    long expiresAtOf(long address) {
        return range.get(JAVA_LONG_UNALIGNED, address - base + EXPIRES_AT);
    }

    /**
     * Whether the entry's deadline has passed at {@code now}, or, if {@code now} is {@link #NOT_READ}, at this
     * moment (the clock read here, for an entry that has a deadline only).
     */
    boolean expired(long address, long now) {
        long expiresAt = range.get(JAVA_LONG_UNALIGNED, address - base + EXPIRES_AT);
        if (expiresAt == 0) {
            return false;
        }
        return (now == NOT_READ ? ticker.read() : now) - expiresAt >= 0;
    }

    /**
     * Notes a read of the entry for the policy: lossy (a slot may be overwritten before it is drained), and every
     * {@value #DRAIN_EVERY} reads the reader tries the lock to drain.
     */
    void recordRead(long address) {
        long n = (long) READ_COUNT.getAndAdd(this, 1L);
        readBuffer[(int) n & (READ_BUFFER - 1)] = address;
        if ((n & (DRAIN_EVERY - 1)) == DRAIN_EVERY - 1) {
            drainFromReader();
        }
    }

    /** As {@link #recordRead}, for an entry the read found expired: a drain under the write lock will free it. */
    void recordExpiredRead(long address) {
        expiredRead = true;
        recordRead(address);
    }

    /**
     * A reader's drain: in read mode when it can (optimistic readers keep their stamps), under the write lock
     * when an expired entry waits to be freed or the climber may move the window. Never waits: a busy lock or a
     * drain already running leaves the reads to the next one.
     */
    private void drainFromReader() {
        if (expiredRead) {
            long stamp = lock.tryWriteLock();
            if (stamp != 0) {
                try {
                    expiredRead = false;
                    drainReads(ticker.read());
                    climb();
                } finally {
                    lock.unlockWrite(stamp);
                }
            }
            return;
        }
        drainInReadMode();
    }

    /**
     * Before a write takes the write lock: the reads recorded since the last drain are applied in read mode, as a
     * reader's drain, so that the write's eviction sees them while the write lock is held for the write alone. A
     * drain under the write lock kept the segment's optimistic readers failing and then parking for its length:
     * with 2 threads at 50% writes the cache ran slower than with one. Never waits.
     */
    void drainBeforeWrite() {
        // drainedTo is read without the lock: only a hint. An expired entry read waits for the write's own drain,
        // which frees it.
        if (!expiredRead && (long) READ_COUNT.getOpaque(this) != drainedTo) {
            drainInReadMode();
        }
    }

    /** Applies the recorded reads in read mode, unless the lock is write-locked or another drain runs. */
    private void drainInReadMode() {
        if (!DRAINING.compareAndSet(this, false, true)) {
            return;
        }
        try {
            long stamp = lock.tryReadLock();
            if (stamp != 0) {
                try {
                    applyReads(0, false);
                } finally {
                    lock.unlockRead(stamp);
                }
            }
        } finally {
            DRAINING.setRelease(this, false);
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Writes: under the write lock

    /** Writes a new entry's header, key and value into the block at {@code address}. */
    void writeEntry(long address, long hash, MemorySegment key, byte[] keyArray, long keyBytes,
                    MemorySegment value, byte[] valueArray, long valueBytes, long expiresAt) {
        long offset = address - base;
        range.set(JAVA_LONG_UNALIGNED, offset + HASH, hash);
        range.set(JAVA_LONG_UNALIGNED, offset + PREV, 0);
        range.set(JAVA_LONG_UNALIGNED, offset + NEXT, 0);
        range.set(JAVA_LONG_UNALIGNED, offset + EXPIRES_AT, expiresAt);
        range.set(JAVA_INT_UNALIGNED, offset + KEY_BYTES, (int) keyBytes);
        range.set(JAVA_INT_UNALIGNED, offset + VALUE_BYTES, (int) valueBytes);
        range.set(JAVA_INT_UNALIGNED, offset + QUEUE, -1);
        range.set(JAVA_INT_UNALIGNED, offset + WEIGHT, (int) allocator.usableSize(address));
        if (key != null) {
            MemorySegment.copy(key, 0, range, offset + HEADER_BYTES, keyBytes);
        } else {
            MemorySegment.copy(keyArray, 0, range, JAVA_BYTE, offset + HEADER_BYTES, (int) keyBytes);
        }
        if (value != null) {
            MemorySegment.copy(value, 0, range, offset + HEADER_BYTES + keyBytes, valueBytes);
        } else {
            MemorySegment.copy(valueArray, 0, range, JAVA_BYTE, offset + HEADER_BYTES + keyBytes, (int) valueBytes);
        }
    }

    /**
     * Indexes {@code entry} (written by {@link #writeEntry}) under {@code key}, replacing a present entry unless
     * {@code onlyIfAbsent}, then evicts down to capacity.
     *
     * @return false if {@code onlyIfAbsent} and a live entry is present (the caller frees {@code entry})
     */
    boolean insert(long hash, MemorySegment key, byte[] keyArray, long keyBytes, long entry, boolean onlyIfAbsent,
                   long now) {
        drainIfBehind(now);
        if (index.isClosed()) {
            return false; // closed under a racing write: the caller frees the entry
        }
        int slot = index.slotOfKey(hash, key, keyArray, keyBytes);
        if (slot >= 0) {
            long old = index.entryAt(slot);
            boolean expired = expired(old, now);
            if (onlyIfAbsent && !expired) {
                return false;
            }
            index.replace(slot, entry);
            queues.unlink(old);
            weight -= weightOf(old);
            if (expired) {
                expirations++;
            }
            notifyRemoval(old, expired ? RemovalCause.EXPIRED : RemovalCause.REPLACED);
            allocator.free(old);
        } else {
            if (!indexNew(hash, entry)) {
                rejections++;
                return false;
            }
            count++;
            sampleMisses++;
            if (count > sketch.capacity() && count < maxCount) {
                // Bounded by bytes, the entries' count was a guess (1 KiB each): the sketch grows with them, as
                // Caffeine's does, or its counters would be shared by too many keys to tell them apart.
                sketch = new FrequencySketch(2L * count);
            }
        }
        weight += weightOf(entry);
        if ((++puts & BUDGET_CHECK_MASK) == 0) {
            budget.check(System.nanoTime(), (double) weight / fullWeight);
        }
        followBudget();
        sketch.increment(hash);
        queues.linkFirst(WINDOW, entry);
        evictToCapacity();
        climb();
        return true;
    }

    /** Removes the live entry for {@code key}; true if there was one (an expired one counts as absent). */
    boolean remove(long hash, MemorySegment key, byte[] keyArray, long keyBytes, long now) {
        drainIfBehind(now);
        int slot = index.slotOfKey(hash, key, keyArray, keyBytes);
        if (slot < 0) {
            return false;
        }
        long address = index.entryAt(slot);
        boolean expired = expired(address, now);
        queues.unlink(address);
        delete(slot, address, expired ? RemovalCause.EXPIRED : RemovalCause.EXPLICIT);
        if (expired) {
            expirations++;
        } else {
            removals++;
        }
        return !expired;
    }

    /** The live entry for {@code key} under the lock, or 0; an expired one is removed on the way. */
    long findLive(long hash, MemorySegment key, byte[] keyArray, long keyBytes, long now) {
        int slot = index.slotOfKey(hash, key, keyArray, keyBytes);
        if (slot < 0) {
            return 0;
        }
        long address = index.entryAt(slot);
        if (expired(address, now)) {
            queues.unlink(address);
            delete(slot, address, RemovalCause.EXPIRED);
            expirations++;
            return 0;
        }
        return address;
    }

    /** Evicts policy victims until {@code bytes} more would fit or the segment is empty; bytes evicted. */
    long evictForAllocation(long bytes) {
        long freed = 0;
        while (freed < bytes && count > 0) {
            long victim = victim();
            freed += weightOf(victim);
            queues.unlink(victim);
            evict(victim);
        }
        return freed;
    }

    /** Removes entries whose time is up; how many. */
    int removeExpired(long now) {
        drainReads(now);
        int removed = 0;
        for (int q = WINDOW; q <= PROTECTED; q++) {
            long address = queues.head(q);
            while (address != 0) {
                long next = queues.next(address);
                if (expired(address, now)) {
                    queues.unlink(address);
                    delete(index.slotOfAddress(address), address, RemovalCause.EXPIRED);
                    expirations++;
                    removed++;
                }
                address = next;
            }
        }
        return removed;
    }

    /**
     * For good: later reads see {@link #CLOSED_ENTRY}; the entries are freed first unless the allocator is
     * about to be closed whole.
     */
    void close(boolean freeEntries) {
        if (freeEntries) {
            clear();
        }
        queues.clear(); // blocks not freed went with the allocator
        count = 0;
        weight = 0;
        index.close(freeEntries);
    }

    /** The index's bytes in the allocator: one block, none once closed. */
    long indexBytes() {
        return index.bytes();
    }

    /** Frees every entry; the index is emptied in place ({@link CacheIndex#clear}). */
    void clear() {
        for (int q = WINDOW; q <= PROTECTED; q++) {
            long address = queues.head(q);
            while (address != 0) {
                long next = queues.next(address);
                allocator.free(address);
                address = next;
            }
        }
        queues.clear();
        index.clear();
        count = 0;
        weight = 0;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Policy

    /** Takes this segment's weight bound from the cache's memory budget (the next eviction meets it). */
    private void followBudget() {
        double scale = budget.scale();
        if (scale != appliedScale) {
            appliedScale = scale;
            maxWeight = Math.max(1, (long) (fullWeight * scale));
            setWindowShare(windowShare);
        }
    }

    private void evictToCapacity() {
        while ((queues.weight(WINDOW) > windowMax || queues.count(WINDOW) > windowMaxCount) && queues.tail(WINDOW) != 0) {
            long candidate = queues.tail(WINDOW);
            queues.unlink(candidate);
            admit(candidate);
        }
        while ((weight > maxWeight || count > maxCount) && count > 0) {
            long victim = victim();
            queues.unlink(victim);
            evict(victim);
        }
    }

    /**
     * TinyLFU with weights: the window's overflow enters the main space (probation) only if the sketch says it
     * is seen more often than <em>all</em> the entries it would displace together: the victims from probation's
     * LRU end, then protected's, until the main space has room for its weight. Comparing with the sum, not
     * victim by victim, keeps one large value from pushing out dozens of small entries that are read as often:
     * the count of hits is what a cache is for. The main space's count bound is met the same way: enough victims
     * to make room in both.
     */
    private void admit(long candidate) {
        long excessBytes = queues.weight(PROBATION) + queues.weight(PROTECTED) + weightOf(candidate)
                - (maxWeight - windowMax);
        long excessCount = maxCount == Long.MAX_VALUE ? 0
                : queues.count(PROBATION) + queues.count(PROTECTED) + 1 - (maxCount - windowMaxCount);
        if (excessBytes <= 0 && excessCount <= 0) {
            queues.linkFirst(PROBATION, candidate);
            return;
        }
        int candidateFrequency = sketch.frequency(hashOf(candidate));
        int displacedFrequency = 0;
        long freedBytes = 0;
        long freedCount = 0;
        int queue = PROBATION;
        long victim = queues.tail(PROBATION);
        while (freedBytes < excessBytes || freedCount < excessCount) {
            if (victim == 0) {
                if (queue == PROTECTED) {
                    break;
                }
                queue = PROTECTED;
                victim = queues.tail(PROTECTED);
                continue;
            }
            displacedFrequency += sketch.frequency(hashOf(victim));
            if (displacedFrequency >= candidateFrequency) {
                break;
            }
            freedBytes += weightOf(victim);
            freedCount++;
            victim = queues.prev(victim);
        }
        if (freedBytes < excessBytes || freedCount < excessCount) {
            evict(candidate);
            return;
        }
        for (long i = 0; i < freedCount; i++) {
            long displaced = queues.tail(PROBATION) != 0 ? queues.tail(PROBATION) : queues.tail(PROTECTED);
            queues.unlink(displaced);
            evict(displaced);
        }
        queues.linkFirst(PROBATION, candidate);
    }

    private long victim() {
        long victim = queues.tail(PROBATION) != 0 ? queues.tail(PROBATION) : queues.tail(PROTECTED) != 0 ? queues.tail(PROTECTED) : queues.tail(WINDOW);
        if (victim == 0) {
            throw new IllegalStateException("no entry to evict in a segment that counts " + count);
        }
        return victim;
    }

    private void onRead(long address) {
        int queue = queues.queueOf(address);
        queues.unlink(address);
        if (queue == PROBATION || queue == PROTECTED) {
            queues.linkFirst(PROTECTED, address);
            while ((queues.weight(PROTECTED) > protectedMax || queues.count(PROTECTED) > protectedMaxCount)
                    && queues.tail(PROTECTED) != address) {
                long demoted = queues.tail(PROTECTED);
                queues.unlink(demoted);
                queues.linkFirst(PROBATION, demoted);
            }
        } else {
            queues.linkFirst(WINDOW, address);
        }
    }

    /**
     * Write lock held: applies the reads recorded since the last drain; stale addresses (entries gone since) are
     * skipped, expired entries freed.
     */
    void drainReads(long now) {
        applyReads(now, true);
    }

    /**
     * Write lock held: drains if an expired entry was read (to free it) or if the drains in read mode ({@link
     * #drainBeforeWrite}, the readers') left half the ring, before it overwrites what they left; a write holds the
     * lock for the write alone otherwise.
     */
    private void drainIfBehind(long now) {
        if (expiredRead || (long) READ_COUNT.getVolatile(this) - drainedTo >= READ_BUFFER / 2) {
            expiredRead = false;
            drainReads(now);
        }
    }

    /**
     * Applies the recorded reads: promotes each still indexed entry and counts it in the sketch. With
     * {@code mayFree} (write lock held) an expired one is removed; without (read mode, see the class comment) it is
     * left for a drain under the write lock.
     */
    private void applyReads(long now, boolean mayFree) {
        long end = (long) READ_COUNT.getVolatile(this);
        for (long n = Math.max(drainedTo, end - READ_BUFFER); n < end; n++) {
            int i = (int) n & (READ_BUFFER - 1);
            long address = readBuffer[i];
            readBuffer[i] = 0;
            int slot = address == 0 ? -1 : index.slotOfAddress(address);
            if (slot < 0) {
                continue;
            }
            if (mayFree && expired(address, now)) {
                queues.unlink(address);
                delete(slot, address, RemovalCause.EXPIRED);
                expirations++;
            } else if (!mayFree && expiresAtOf(address) != 0 && expiredNow(address)) {
                expiredRead = true; // not counted as a read of a live entry; the next write-mode drain frees it
            } else {
                sketch.increment(hashOf(address));
                onRead(address);
                sampleHits++;
            }
        }
        drainedTo = end;
    }

    // ---------------------------------------------------------------------------------------------------------
    // The window's hill climber (lock held)

    /** At the end of a sample: steps the window's share toward the better hit rate (see the class comment). */
    private void climb() {
        long requests = sampleHits + sampleMisses;
        long expectedEntries = maxCount != Long.MAX_VALUE ? maxCount : Math.max(count, 16);
        if (requests < Math.max(256, 10 * expectedEntries)) {
            return;
        }
        double hitRate = (double) sampleHits / requests;
        double change = hitRate - previousHitRate;
        double amount = change >= 0 ? stepShare : -stepShare;
        stepShare = Math.abs(change) >= CLIMB_RESTART ? (amount >= 0 ? CLIMB_STEP : -CLIMB_STEP)
                : CLIMB_DECAY * amount;
        previousHitRate = hitRate;
        sampleHits = 0;
        sampleMisses = 0;
        double share = Math.clamp(windowShare + amount, 0, MAX_WINDOW);
        if (share != windowShare) {
            setWindowShare(share);
            rebalance();
        }
    }

    /** The queues' bounds for a window of {@code share} of both bounds; protected gets 80% of the rest. */
    private void setWindowShare(double share) {
        windowShare = share;
        windowMax = Math.max(1, (long) (maxWeight * share));
        protectedMax = (maxWeight - windowMax) / 5 * 4;
        boolean counted = maxCount != Long.MAX_VALUE;
        windowMaxCount = counted ? Math.max(1, (long) (maxCount * share)) : Long.MAX_VALUE;
        protectedMaxCount = counted ? (maxCount - windowMaxCount) / 5 * 4 : Long.MAX_VALUE;
    }

    /**
     * After the share moved: a window over its bounds gives its least recent entries to probation (no admission:
     * they were in the cache already); one under its bounds takes main's least recent entries, as Caffeine does,
     * so the entries stay and only their queue changes; protected's overflow is demoted.
     */
    private void rebalance() {
        while ((queues.weight(WINDOW) > windowMax || queues.count(WINDOW) > windowMaxCount) && queues.tail(WINDOW) != 0) {
            long moved = queues.tail(WINDOW);
            queues.unlink(moved);
            queues.linkFirst(PROBATION, moved);
        }
        while (true) {
            long moved = queues.tail(PROBATION) != 0 ? queues.tail(PROBATION) : queues.tail(PROTECTED);
            if (moved == 0 || queues.weight(WINDOW) + weightOf(moved) > windowMax
                    || queues.count(WINDOW) + 1 > windowMaxCount) {
                break;
            }
            queues.unlink(moved);
            queues.linkFirst(WINDOW, moved);
        }
        while ((queues.weight(PROTECTED) > protectedMax || queues.count(PROTECTED) > protectedMaxCount)
                && queues.tail(PROTECTED) != 0) {
            long demoted = queues.tail(PROTECTED);
            queues.unlink(demoted);
            queues.linkFirst(PROBATION, demoted);
        }
    }

    /** Drops an unlinked entry from the index, frees it and counts an eviction. */
    private void evict(long address) {
        delete(index.slotOfAddress(address), address, RemovalCause.EVICTED);
        evictions++;
    }

    /**
     * Indexes a new entry; if the index is full and cannot grow (the allocator refused the memory), the policy's
     * victims make room, as at capacity. False only if there is none (the entry is not indexed).
     */
    private boolean indexNew(long hash, long address) {
        while (!index.add(hash, address, count)) {
            if (count == 0) {
                return false;
            }
            long victim = victim();
            queues.unlink(victim);
            evict(victim);
        }
        return true;
    }

    /**
     * Removes slot {@code slot} (holding unlinked {@code address}) from the index, tells the removal listener,
     * then frees the entry.
     */
    private void delete(int slot, long address, RemovalCause cause) {
        index.remove(slot);
        count--;
        weight -= weightOf(address);
        notifyRemoval(address, cause);
        allocator.free(address);
    }

    /** Under the write lock, before the entry is freed: its key and value, read-only, to the listener if any. */
    private void notifyRemoval(long address, RemovalCause cause) {
        if (removalListener == null) {
            return;
        }
        long offset = address - base;
        int keyBytes = range.get(JAVA_INT_UNALIGNED, offset + KEY_BYTES);
        int valueBytes = range.get(JAVA_INT_UNALIGNED, offset + VALUE_BYTES);
        try {
            removalListener.onRemoval(range.asSlice(offset + HEADER_BYTES, keyBytes).asReadOnly(),
                    range.asSlice(offset + HEADER_BYTES + keyBytes, valueBytes).asReadOnly(), cause);
        } catch (RuntimeException e) {
            // A broken listener throws on every removal: the 1st, 2nd, 4th, 8th... failure is logged, not each.
            if (Long.bitCount(++listenerFailures) == 1) {
                LOG.warn("OffHeapCache removal listener threw on a {} entry ({} times in this segment); the removal"
                        + " went on", cause, listenerFailures, e);
            }
        }
    }

    private long hashOf(long address) {
        return index.hashOf(address);
    }

    long weightOf(long address) {
        return range.get(JAVA_INT_UNALIGNED, address - base + WEIGHT);
    }
}
