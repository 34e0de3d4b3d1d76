package dev.offheap.allocator.examples;

// tag::allocator-imports[]
import dev.offheap.allocator.offheap.OffHeapAllocator;
import dev.offheap.allocator.offheap.OffHeapAllocatorConfig;
import java.lang.foreign.MemorySegment;
// end::allocator-imports[]

/** README's first snippet: an allocator, a block, a view of it, a resize, a free, the report. */
public final class GettingStarted {

    private GettingStarted() {
    }

    public static void main(String[] args) {
        // tag::allocator[]
        try (OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig()
                .name("values")
                .maxBytes(8L << 30)          // hard cap on committed memory, checked before a page is committed
                .decayMillis(1_000))) {      // free pages go back to the OS after about a second
            long address = allocator.allocate(200);              // 16-byte aligned, never 0
            MemorySegment block = allocator.segment(address);    // bounds-checked view of the usable bytes
            block.setString(0, "hello");
            address = allocator.reallocate(address, 4_000);      // C realloc: contents kept
            allocator.free(address);                             // from any thread
            System.out.println(allocator.report());              // totals and a row per size class
        }                                                        // with .jmx(true) also in JMX
        // end::allocator[]
    }
}
