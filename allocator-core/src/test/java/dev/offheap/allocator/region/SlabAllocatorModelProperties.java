package dev.offheap.allocator.region;

import dev.offheap.allocator.Allocator;
import dev.offheap.allocator.testkit.AllocatorModelProperties;

import java.lang.foreign.Arena;

class SlabAllocatorModelProperties extends AllocatorModelProperties {
    @Override
    protected Allocator create() {
        return SlabAllocator.over(Arena.ofAuto().allocate(64 * 1024, 4096), 512);
    }

    @Override
    protected long maxBlockBytes() {
        return 512;
    }
}
