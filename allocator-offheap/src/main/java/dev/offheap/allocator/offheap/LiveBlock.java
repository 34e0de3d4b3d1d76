package dev.offheap.allocator.offheap;

import java.util.List;

/**
 * A block still allocated, as {@link OffHeapAllocator#liveBlocks()} lists it.
 *
 * @param address          the block's address
 * @param usableBytes      its usable size
 * @param allocationStack  where it was allocated, if {@link LeakDetection} recorded it; empty otherwise
 */
public record LiveBlock(long address, long usableBytes, List<StackTraceElement> allocationStack) {
    public LiveBlock {
        allocationStack = List.copyOf(allocationStack);
    }
}
