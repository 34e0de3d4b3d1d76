package dev.offheap.allocator.examples;

import dev.offheap.allocator.netty.OffHeapByteBufAllocator;
import dev.offheap.allocator.offheap.OffHeapAllocator;
import dev.offheap.allocator.offheap.OffHeapAllocatorConfig;
import io.netty.buffer.ByteBuf;

/** README's Netty snippet. */
public final class NettyExample {

    private NettyExample() {
    }

    public static void main(String[] args) {
        // tag::netty[]
        OffHeapAllocator memory = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("netty").maxBytes(2L << 30));
        OffHeapByteBufAllocator alloc = new OffHeapByteBufAllocator(memory);   // ChannelOption.ALLOCATOR
        ByteBuf buf = alloc.directBuffer(256);                                 // Netty's own ref-counted buffer
        buf.release();                                                         // from any thread: the block goes back
        alloc.metric().usedDirectMemory();                                     // its live buffers' bytes, never -1
        // end::netty[]
        System.out.println(alloc.metric());
        memory.close();
    }
}
