/**
 * {@link dev.offheap.allocator.cache.OffHeapCache}: a concurrent key-value cache whose entries and index live
 * off-heap, built on {@link dev.offheap.allocator.offheap.OffHeapAllocator}'s public API alone.
 */
module dev.offheap.allocator.cache {
    requires transitive dev.offheap.allocator.offheap;
    requires org.slf4j;

    exports dev.offheap.allocator.cache;
}
