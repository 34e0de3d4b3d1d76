package dev.offheap.allocator.region;

import dev.offheap.allocator.Allocator;
import dev.offheap.allocator.testkit.AllocatorModelProperties;

import java.lang.foreign.Arena;

class BuddyAllocatorModelProperties extends AllocatorModelProperties {
    @Override
    protected Allocator create() {
        return BuddyAllocator.over(Arena.ofAuto().allocate(256 * 1024, 4096));
    }
}
