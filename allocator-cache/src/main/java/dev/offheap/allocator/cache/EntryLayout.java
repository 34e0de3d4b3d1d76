package dev.offheap.allocator.cache;

/**
 * One cache entry: a block of the cache's {@link dev.offheap.allocator.offheap.OffHeapAllocator}, header then
 * key then value. Offsets from the block's start; all fields native byte order.
 *
 * <pre>
 *   0        8        16       24          32        36          40      44       48
 *   | hash   | prev   | next   | expiresAt | keyBytes| valueBytes| queue | weight | key ... | value ... |
 * </pre>
 *
 * {@code prev}/{@code next} link the entry into its policy queue (window, probation or protected);
 * {@code expiresAt} is a deadline on the cache's {@link Ticker} ({@link System#nanoTime()} by default), 0 for
 * never; {@code weight} is the block's usable size, what the entry costs against the cache's capacity.
 */
final class EntryLayout {
    static final long HASH = 0;
    static final long PREV = 8;
    static final long NEXT = 16;
    static final long EXPIRES_AT = 24;
    static final long KEY_BYTES = 32;
    static final long VALUE_BYTES = 36;
    static final long QUEUE = 40;
    static final long WEIGHT = 44;
    static final long HEADER_BYTES = 48;

    private EntryLayout() {
    }
}
