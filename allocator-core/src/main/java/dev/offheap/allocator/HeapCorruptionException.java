package dev.offheap.allocator;

/**
 * Thrown when the allocator finds its own bookkeeping overwritten, most often by a write past the end of a
 * block (a buffer overflow through a raw address). The message names the block and what was found.
 */
public class HeapCorruptionException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    public HeapCorruptionException(String message) {
        super(message);
    }
}
