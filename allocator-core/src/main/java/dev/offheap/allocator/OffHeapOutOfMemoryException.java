package dev.offheap.allocator;

/**
 * Thrown when an allocation cannot be satisfied now: the memory is full, too fragmented, or a cap would be
 * exceeded. The allocator stays usable; freeing memory makes later calls succeed.
 *
 * <p>It is an exception, not an {@link OutOfMemoryError}: running out of an off-heap pool is an expected,
 * recoverable condition for a cache (evict and retry), not a reason to bring the JVM down.
 */
public class OffHeapOutOfMemoryException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final long requestedBytes;
    private final long freeBytes;
    private final long largestFreeBlockBytes;

    public OffHeapOutOfMemoryException(String message, long requestedBytes, long freeBytes,
                                       long largestFreeBlockBytes) {
        super(message);
        this.requestedBytes = requestedBytes;
        this.freeBytes = freeBytes;
        this.largestFreeBlockBytes = largestFreeBlockBytes;
    }

    /** The size that was asked for. */
    public long requestedBytes() {
        return requestedBytes;
    }

    /** Free bytes at the time of the failure (-1 only where the allocator cannot know, documented there). */
    public long freeBytes() {
        return freeBytes;
    }

    /** The largest block that could have been allocated at the time of the failure. */
    public long largestFreeBlockBytes() {
        return largestFreeBlockBytes;
    }
}
