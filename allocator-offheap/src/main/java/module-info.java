/**
 * The production allocator, {@link dev.offheap.allocator.offheap.OffHeapAllocator}: per-thread slab caches
 * over a locked buddy / segregated-list global heap, over reserved address space or a caller's region.
 */
module dev.offheap.allocator.offheap {
    requires transitive dev.offheap.allocator.core;
    requires org.agrona;
    requires org.slf4j;
    requires java.management;
    requires jdk.jfr;

    exports dev.offheap.allocator.offheap;
    exports dev.offheap.allocator.offheap.jfr;
}
