/**
 * Micrometer binders for {@link dev.offheap.allocator.offheap.OffHeapAllocator} and
 * {@link dev.offheap.allocator.cache.OffHeapCache}; Micrometer is the application's.
 */
module dev.offheap.allocator.micrometer {
    requires transitive dev.offheap.allocator.offheap;
    requires transitive dev.offheap.allocator.cache;
    requires transitive micrometer.core;

    exports dev.offheap.allocator.micrometer;
}
