package dev.offheap.allocator.region;

import dev.offheap.allocator.Allocator;
import dev.offheap.allocator.testkit.AllocatorContractTest;

import java.lang.foreign.Arena;

class SlabAllocatorContractTest extends AllocatorContractTest {
    private static final long SLOT = 256;

    @Override
    protected Allocator create(long capacityBytes) {
        return SlabAllocator.over(Arena.ofAuto().allocate(capacityBytes, 4096), SLOT);
    }

    @Override
    protected long maxBlockBytes() {
        return SLOT;
    }

    @Override
    protected long maxSupportedAlignment() {
        return SLOT;
    }

    /** Slots never merge: the largest block is always one slot. */
    @Override
    protected boolean coalesces() {
        return false;
    }
}
