package dev.offheap.allocator.offheap;

import dev.offheap.allocator.Allocator;
import dev.offheap.allocator.testkit.AllocatorModelProperties;

import java.lang.foreign.Arena;

class OffHeapAllocatorModelProperties extends AllocatorModelProperties {
    @Override
    protected Allocator create() {
        return OffHeapAllocator.create(new OffHeapAllocatorConfig().name("model").maxBytes(16 << 20));
    }

    @Override
    protected long maxBlockBytes() {
        return 2 << 20; // small, medium and huge blocks
    }

    @Override
    protected long maxAlignment() {
        return 256;
    }
}

class OffHeapAllocatorOverRegionModelProperties extends AllocatorModelProperties {
    @Override
    protected Allocator create() {
        return OffHeapAllocator.create(new OffHeapAllocatorConfig().name("model-region").maxBytes(16 << 20)
                .memorySource(MemorySource.of(Arena.ofAuto().allocate(24 << 20, 4096))));
    }

    @Override
    protected long maxBlockBytes() {
        return 2 << 20;
    }
}
