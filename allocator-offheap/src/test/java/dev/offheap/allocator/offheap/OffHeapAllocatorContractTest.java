package dev.offheap.allocator.offheap;

import dev.offheap.allocator.Allocator;
import dev.offheap.allocator.testkit.AllocatorContractTest;
import org.junit.jupiter.api.Nested;

import java.lang.foreign.Arena;
import java.nio.ByteBuffer;

/** The contract suite against {@link OffHeapAllocator} over each memory source, and with thread caching off. */
class OffHeapAllocatorContractTest {

    /** Capacity for the tests: slabs, a medium chunk and huge blocks must all fit. */
    static final long MAX_BYTES = 8 * CAPACITY_OF_SUITE();

    @SuppressWarnings("checkstyle:MethodName")
    private static long CAPACITY_OF_SUITE() {
        return 1 << 20;
    }

    abstract static class OffHeapContract extends AllocatorContractTest {
        @Override
        protected void settle() {
            ((OffHeapAllocator) allocator).trim();
        }

        @Override
        protected long maxSupportedAlignment() {
            return OffHeapAllocator.MAX_ALIGNMENT;
        }
    }

    @Nested
    class OverReservedAddressSpace extends OffHeapContract {
        @Override
        protected Allocator create(long capacityBytes) {
            return OffHeapAllocator.create(new OffHeapAllocatorConfig().name("contract-mmap").maxBytes(MAX_BYTES));
        }
    }

    @Nested
    class OverACallersSegment extends OffHeapContract {
        @Override
        protected Allocator create(long capacityBytes) {
            return OffHeapAllocator.create(new OffHeapAllocatorConfig().name("contract-region").maxBytes(MAX_BYTES)
                    .memorySource(MemorySource.of(Arena.ofAuto().allocate(MAX_BYTES * 2, 4096))));
        }
    }

    @Nested
    class OverADirectBuffer extends OffHeapContract {
        @Override
        protected Allocator create(long capacityBytes) {
            return OffHeapAllocator.create(new OffHeapAllocatorConfig().name("contract-buffer").maxBytes(MAX_BYTES)
                    .memorySource(MemorySource.of(ByteBuffer.allocateDirect((int) MAX_BYTES * 2))));
        }
    }

    @Nested
    class OverAnArena extends OffHeapContract {
        @Override
        protected Allocator create(long capacityBytes) {
            return OffHeapAllocator.create(new OffHeapAllocatorConfig().name("contract-arena").maxBytes(MAX_BYTES)
                    .memorySource(MemorySource.arena()));
        }
    }

    @Nested
    class WithoutThreadCaching extends OffHeapContract {
        @Override
        protected Allocator create(long capacityBytes) {
            return OffHeapAllocator.create(new OffHeapAllocatorConfig().name("contract-nocache").maxBytes(MAX_BYTES)
                    .threadCaching(false));
        }
    }

    @Nested
    class InDebugMode extends OffHeapContract {
        @Override
        protected Allocator create(long capacityBytes) {
            return OffHeapAllocator.create(new OffHeapAllocatorConfig().name("contract-debug").maxBytes(MAX_BYTES)
                    .debugLevel(1));
        }
    }
}
