package dev.offheap.allocator.region;

import dev.offheap.allocator.Allocator;
import dev.offheap.allocator.testkit.AllocatorContractTest;

import java.lang.foreign.Arena;

class BuddyAllocatorContractTest extends AllocatorContractTest {
    @Override
    protected Allocator create(long capacityBytes) {
        return BuddyAllocator.over(Arena.ofAuto().allocate(capacityBytes, 4096));
    }
}
