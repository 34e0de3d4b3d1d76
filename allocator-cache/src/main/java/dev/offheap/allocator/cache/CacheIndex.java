package dev.offheap.allocator.cache;

import dev.offheap.allocator.OffHeapOutOfMemoryException;
import dev.offheap.allocator.offheap.OffHeapAllocator;

import java.lang.foreign.MemorySegment;

import static dev.offheap.allocator.cache.EntryLayout.HASH;
import static dev.offheap.allocator.cache.EntryLayout.HEADER_BYTES;
import static dev.offheap.allocator.cache.EntryLayout.KEY_BYTES;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

/**
 * A segment's index: open addressing with linear probing over a table of 16-byte slots in one block of the cache's
 * allocator, off the heap like the entries ({@link Table}: slot i holds the entry's address, 0 = empty, and its
 * full hash); load at most 3/4 while it can grow; removal shifts the probe chain back (no tombstones). On the heap
 * it was 16-43 bytes an entry that the collector copied while young and that ZGC relocated under readers (the
 * {@code gc} workload). A table grows by doubling; the old block is freed at once.
 *
 * <p>Writes happen under the segment's write lock. {@link #find} runs without it: every word it reads, slot or
 * entry field, lies inside the allocator's range and each read is bounds-checked against it (so a stale table or
 * address, even one freed and reused since, costs the reader a retry, never a fault; a probe ends after
 * {@code mask + 1} slots whatever it reads); the segment's stamp, validated after, says whether it was consistent.
 */
final class CacheIndex {
    /** What {@link #find} returns once closed; never an entry's address. */
    static final long CLOSED_ENTRY = -1;
    private static final int INITIAL_SLOTS = 16;

    /**
     * The slots, {@value #SLOT_BYTES} bytes each in one block of the allocator: the entry's address at
     * {@code offset + i * 16}, its hash at {@code + 8}. Replaced whole when it grows, so readers always see one
     * consistent offset and mask.
     */
    static final class Table {
        static final int SLOT_BYTES = 16;
        /** The block's address, to free it; 0 for the closed table, which has no block. */
        final long block;
        /** The block's offset in the range. */
        final long offset;
        final int mask;

        Table(long block, long offset, int slots) {
            this.block = block;
            this.offset = offset;
            this.mask = slots - 1;
        }
    }

    /** The table of a closed index: readers find it where they look up the table anyway, at no extra read. */
    private static final Table CLOSED = new Table(0, 0, 1);

    private final OffHeapAllocator allocator;
    private final MemorySegment range;
    private final long base;
    private final long rangeBytes;
    private volatile Table table;

    CacheIndex(OffHeapAllocator allocator) {
        this.allocator = allocator;
        this.range = allocator.range();
        this.base = range.address();
        this.rangeBytes = range.byteSize();
        this.table = newTable(INITIAL_SLOTS);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Reads: safe without the lock (bounds-checked, results meaningful only once the stamp validates)

    /** The entry for the key (a segment, or else an array: exactly one is non-null), 0, or {@link #CLOSED_ENTRY}. */
    long find(long hash, MemorySegment key, byte[] keyArray, long keyBytes) {
        Table t = table;
        if (t == CLOSED) {
            return CLOSED_ENTRY;
        }
        int mask = t.mask;
        int i = (int) hash & mask;
        for (int probes = 0; probes <= mask; probes++) {
            long address = addressAt(t, i);
            if (address == 0) {
                return 0;
            }
            if (hashAt(t, i) == hash && keyEquals(address, key, keyArray, keyBytes)) {
                return address;
            }
            i = (i + 1) & mask;
        }
        return 0;
    }

    private boolean keyEquals(long address, MemorySegment key, byte[] keyArray, long keyBytes) {
        long offset = address - base;
        if (offset < 0 || offset > rangeBytes - HEADER_BYTES - keyBytes
                || range.get(JAVA_INT_UNALIGNED, offset + KEY_BYTES) != keyBytes) {
            return false;
        }
        if (key != null) {
            return MemorySegment.mismatch(range, offset + HEADER_BYTES, offset + HEADER_BYTES + keyBytes,
                    key, 0, keyBytes) == -1;
        }
        // A byte[] key is compared in place: wrapping it in a heap segment would cost two objects per lookup.
        long at = offset + HEADER_BYTES;
        int i = 0;
        for (; i + Long.BYTES <= keyBytes; i += Long.BYTES) {
            if (range.get(JAVA_LONG_UNALIGNED, at + i) != (long) Keys.LONGS_OF_BYTES.get(keyArray, i)) {
                return false;
            }
        }
        for (; i < keyBytes; i++) {
            if (range.get(JAVA_BYTE, at + i) != keyArray[i]) {
                return false;
            }
        }
        return true;
    }

    /** The entry's full hash, from its header. */
    long hashOf(long address) {
        return range.get(JAVA_LONG_UNALIGNED, address - base + HASH);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Under the write lock

    boolean isClosed() {
        return table == CLOSED;
    }

    /** The slot indexing the key, or -1. */
    int slotOfKey(long hash, MemorySegment key, byte[] keyArray, long keyBytes) {
        Table t = table;
        if (t == CLOSED) {
            return -1;
        }
        for (int i = (int) hash & t.mask; addressAt(t, i) != 0; i = (i + 1) & t.mask) {
            if (hashAt(t, i) == hash && keyEquals(addressAt(t, i), key, keyArray, keyBytes)) {
                return i;
            }
        }
        return -1;
    }

    /** The slot indexing {@code address}, or -1 if it is not a live entry (its header is only a hint). */
    int slotOfAddress(long address) {
        long offset = address - base;
        Table t = table;
        if (offset < 0 || offset > rangeBytes - HEADER_BYTES || t == CLOSED) {
            return -1;
        }
        for (int i = (int) hashOf(address) & t.mask; addressAt(t, i) != 0; i = (i + 1) & t.mask) {
            if (addressAt(t, i) == address) {
                return i;
            }
        }
        return -1;
    }

    /** The entry in {@code slot} (from {@link #slotOfKey} or {@link #slotOfAddress}). */
    long entryAt(int slot) {
        return addressAt(table, slot);
    }

    /** Puts {@code address} in {@code slot} in place of the entry there (same key, same hash). */
    void replace(int slot, long address) {
        Table t = table;
        range.set(JAVA_LONG_UNALIGNED, t.offset + (long) slot * Table.SLOT_BYTES, address);
    }

    /**
     * Indexes a new entry of {@code hash}, {@code count} being the entries indexed now, growing the table first if
     * it would pass 3/4 full. If the allocator refuses the memory to grow, the table fills further (slower probes,
     * and the next add tries again); false, nothing indexed, once it is full: the caller makes room and retries.
     */
    boolean add(long hash, long address, int count) {
        Table t = table;
        if ((count + 1) * 4L > (t.mask + 1) * 3L) {
            Table grown = grow(t);
            if (grown != null) {
                t = grown;
            } else if (count + 1 >= t.mask + 1) { // one empty slot must stay, or probes would not end
                return false;
            }
        }
        int i = (int) hash & t.mask;
        while (addressAt(t, i) != 0) {
            i = (i + 1) & t.mask;
        }
        setSlot(t, i, address, hash);
        return true;
    }

    /** Empties {@code slot}, shifting the probe chain behind it back. */
    void remove(int slot) {
        Table t = table;
        int mask = t.mask;
        int hole = slot;
        for (int j = (slot + 1) & mask; addressAt(t, j) != 0; j = (j + 1) & mask) {
            long hash = hashAt(t, j);
            int home = (int) hash & mask;
            if (((j - home) & mask) >= ((j - hole) & mask)) {
                setSlot(t, hole, addressAt(t, j), hash);
                hole = j;
            }
        }
        setSlot(t, hole, 0, 0);
    }

    /**
     * Unindexes everything, in place: the table keeps its size, and nothing is allocated that could fail between
     * the caller freeing the entries and unindexing them.
     */
    void clear() {
        Table t = table;
        if (t != CLOSED) {
            range.asSlice(t.offset, bytes()).fill((byte) 0);
        }
    }

    /** For good: later finds return {@link #CLOSED_ENTRY}; the block is freed unless the allocator goes whole. */
    void close(boolean freeBlock) {
        Table last = table;
        table = CLOSED;
        if (freeBlock && last != CLOSED) {
            allocator.free(last.block);
        }
    }

    /** The table's bytes in the allocator; 0 once closed. */
    long bytes() {
        Table t = table;
        return t == CLOSED ? 0 : (t.mask + 1L) * Table.SLOT_BYTES;
    }

    /** A table twice the size of {@code old} with its slots, published, {@code old} freed; null if refused. */
    private Table grow(Table old) {
        Table t;
        try {
            t = newTable((old.mask + 1) * 2);
        } catch (OffHeapOutOfMemoryException refused) {
            return null; // at the cap
        }
        for (int j = 0; j <= old.mask; j++) {
            long address = addressAt(old, j);
            if (address != 0) {
                long hash = hashAt(old, j);
                int i = (int) hash & t.mask;
                while (addressAt(t, i) != 0) {
                    i = (i + 1) & t.mask;
                }
                setSlot(t, i, address, hash);
            }
        }
        table = t;
        allocator.free(old.block); // readers still probing it read garbage, bounds-checked, and fail validation
        return t;
    }

    /** A zeroed table of {@code slots} (a power of two) in a block of the allocator. */
    private Table newTable(int slots) {
        long bytes = (long) slots * Table.SLOT_BYTES;
        long block = allocator.allocate(bytes);
        long offset = block - base;
        range.asSlice(offset, bytes).fill((byte) 0);
        return new Table(block, offset, slots);
    }

    private long addressAt(Table t, int slot) {
        return range.get(JAVA_LONG_UNALIGNED, t.offset + (long) slot * Table.SLOT_BYTES);
    }

    private long hashAt(Table t, int slot) {
        return range.get(JAVA_LONG_UNALIGNED, t.offset + (long) slot * Table.SLOT_BYTES + Long.BYTES);
    }

    private void setSlot(Table t, int slot, long address, long hash) {
        range.set(JAVA_LONG_UNALIGNED, t.offset + (long) slot * Table.SLOT_BYTES, address);
        range.set(JAVA_LONG_UNALIGNED, t.offset + (long) slot * Table.SLOT_BYTES + Long.BYTES, hash);
    }
}
