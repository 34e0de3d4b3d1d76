package dev.offheap.allocator.offheap;

/**
 * What a slab keeps in its own memory: nothing but the link of a free slot. Everything else about a slab
 * (which slots are live, who owns it) is out of band in {@link Slab}, so a write after free cannot corrupt
 * more than a free-list link, and that is checked when the slot is handed out again.
 *
 * <pre>
 *   free slot:  +---------------------------------+-------- ... --+
 *               | NEXT: (next free slot + 1) ^ key | (stale data)  |
 *               +---------------------------------+-------- ... --+
 *               0                                 4
 * </pre>
 * A link of 0 (after the xor) ends the list. The key is random per slab, so data a program leaves in a freed
 * block is unlikely to decode as a valid link.
 */
final class SlabLayout {
    /** Offset of the encoded next link in a free slot. */
    static final long NEXT = 0;

    private SlabLayout() {
    }
}
