package dev.offheap.allocator.cache;

import java.lang.foreign.MemorySegment;

/**
 * Told of every entry that leaves an {@link OffHeapCache} (not of those dropped by {@code close()}), with its key
 * and value as read-only segments of the cache's memory: no copy unless the listener makes one.
 *
 * <p>Called in the thread that caused the removal, under the entry's segment lock, before the entry's memory is
 * freed; the segments are valid only during the call. So it must be quick and must not use the cache (hand work
 * to another thread if there is more to do), as for {@code compute}. An exception it throws is logged and
 * swallowed: the removal goes on, and the cache stays consistent.
 */
@FunctionalInterface
public interface RemovalListener {

    void onRemoval(MemorySegment key, MemorySegment value, RemovalCause cause);
}
