package dev.offheap.allocator.cache;

/** Why an entry left an {@link OffHeapCache}, as its {@link RemovalListener} is told. */
public enum RemovalCause {
    /** {@code remove}, or a {@code compute} that returned null. */
    EXPLICIT,
    /** A {@code put} or {@code compute} wrote a new value for the key. */
    REPLACED,
    /** Its time to live ran out (found by a read, a write, the eviction end or {@code cleanUp()}). */
    EXPIRED,
    /** The policy dropped it to stay within {@code capacityBytes} or {@code maxEntries}. */
    EVICTED
}
