/**
 * {@link dev.offheap.allocator.netty.OffHeapByteBufAllocator}: Netty's direct buffers through
 * {@link dev.offheap.allocator.offheap.OffHeapAllocator}.
 */
module dev.offheap.allocator.netty {
    requires transitive dev.offheap.allocator.offheap;
    requires transitive io.netty.buffer;
    requires io.netty.common;

    exports dev.offheap.allocator.netty;
}
