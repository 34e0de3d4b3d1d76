package dev.offheap.allocator.region;

/**
 * The header every region allocator writes at the start of its region (after aligning it to 16 bytes).
 * Offsets are in bytes from the aligned start; every field is a {@code long}. Allocator-specific fields
 * follow from {@link #SPECIFIC}.
 *
 * <pre>
 *   0       8       16            24                32            40      48           56         64
 *   +-------+-------+-------------+-----------------+-------------+-------+------------+----------+----
 *   | MAGIC | SALT  | LIVE_BLOCKS | ALLOCATED_BYTES | ALLOCATIONS | FREES | FREE_BYTES | reserved | SPECIFIC...
 *   +-------+-------+-------------+-----------------+-------------+-------+------------+----------+----
 * </pre>
 */
final class RegionHeaderLayout {
    /** Identifies the allocator that formatted the region; cleared by {@code close()}. */
    static final long MAGIC = 0;
    /** A random value mixed into every block's check word, so that user data cannot pass for a header. */
    static final long SALT = 8;
    /** Blocks allocated and not freed. */
    static final long LIVE_BLOCKS = 16;
    /** Usable bytes of the live blocks. */
    static final long ALLOCATED_BYTES = 24;
    /** Allocations since the region was formatted. */
    static final long ALLOCATIONS = 32;
    /** Frees since the region was formatted. */
    static final long FREES = 40;
    /** Bytes the allocator can still hand out (each allocator says what it counts). */
    static final long FREE_BYTES = 48;
    /** First allocator-specific field. */
    static final long SPECIFIC = 64;

    private RegionHeaderLayout() {
    }
}
