package dev.offheap.allocator.offheap;

/**
 * What a slab keeps in its own memory: nothing but the link of a slot on the remote free list (freed by a
 * thread that does not own the slab). Everything else about a slab (the owner's free stack, which slots are
 * live, who owns it) is out of band in {@link Slab}, so a write after free can corrupt at most a remote link,
 * and each link is checked when the owner collects the list.
 *
 * <pre>
 *   remotely freed slot:
 *               +---------------------------------+-------- ... --+
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
