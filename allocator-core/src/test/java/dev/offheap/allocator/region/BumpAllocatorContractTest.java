package dev.offheap.allocator.region;

import dev.offheap.allocator.Allocator;
import dev.offheap.allocator.testkit.AllocatorContractTest;

import java.lang.foreign.Arena;

class BumpAllocatorContractTest extends AllocatorContractTest {
    @Override
    protected Allocator create(long capacityBytes) {
        return BumpAllocator.over(Arena.ofAuto().allocate(capacityBytes, 4096));
    }
}
