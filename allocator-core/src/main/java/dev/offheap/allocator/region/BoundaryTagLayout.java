package dev.offheap.allocator.region;

/**
 * The block layout of the boundary-tag allocators (implicit, explicit and segregated free lists). Offsets
 * are from the block's start; every block starts on a 16-byte boundary and its size is a multiple of 16.
 *
 * <pre>
 *   allocated block                              free block
 *   +----------------------+ 0                   +----------------------+ 0
 *   | size | ALLOCATED     |   header word       | size | 0             |
 *   +----------------------+ 8                   +----------------------+ 8
 *   | check                |   proves a header   | check                |
 *   +----------------------+ 16 = PAYLOAD        +----------------------+ 16
 *   | payload ...          |                     | next free (offset)   |   explicit and segregated
 *   |                      |                     | prev free (offset)   |   lists only
 *   |                      |                     | ...                  |
 *   +----------------------+ size - 8            +----------------------+ size - 8
 *   | size | ALLOCATED     |   footer = header   | size | 0             |
 *   +----------------------+ size                +----------------------+ size
 * </pre>
 *
 * {@code check = mix(blockOffset, headerWord & ~FREED, salt)}: an address is the start of a block only if the word
 * before it holds the right check, which user data cannot forge by accident. {@link #FREED} is set in the header
 * only (never in the footer, never in the check), by one compare-and-set, so that a caller may claim a block's
 * free without a lock and two frees of the block cannot both claim it. The footer lets a block find
 * its left neighbour's size in O(1) for coalescing, and catches a write past the end of the payload.
 * Link offsets are from the heap's start; 0 (the region header) means none.
 */
final class BoundaryTagLayout {
    static final long HEADER = 0;
    static final long CHECK = 8;
    static final long PAYLOAD = 16;
    static final long NEXT_FREE = 16;
    static final long PREV_FREE = 24;
    /** Bytes at the start of a free block that the allocator uses (header, check, links); the rest up to the
     *  footer it neither needs nor reads while the block stays free. */
    static final long FREE_BLOCK_TAGS = 32;
    /** Footer offset back from the block's end. */
    static final long FOOTER_FROM_END = 8;

    /** Header + check + footer: usable size = block size - OVERHEAD. */
    static final long OVERHEAD = 24;
    /** Header, check, two links and the footer, rounded to 16. */
    static final long MIN_BLOCK = 48;
    /** Flag in the header and footer words. */
    static final long ALLOCATED = 1;
    /**
     * Flag in an allocated block's header word only: its caller freed it, but it is still allocated in the heap
     * (a cache of freed blocks holds it, or its free is under way). To every call that needs a live block it is
     * freed; to the heap's walks and coalescing it is allocated.
     */
    static final long FREED = 2;
    /** The flag bits of a header word; the rest is the size. */
    static final long FLAGS = 15;

    private BoundaryTagLayout() {
    }
}
