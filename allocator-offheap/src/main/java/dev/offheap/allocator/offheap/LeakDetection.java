package dev.offheap.allocator.offheap;

/**
 * How much of each allocation's origin an {@link OffHeapAllocator} records, so that blocks still live at
 * {@code close()} (or on {@link OffHeapAllocator#liveBlocks()}) can be traced to the code that allocated them.
 */
public enum LeakDetection {
    /** Nothing recorded; live blocks are still listed, without stacks. The default. */
    OFF,
    /**
     * One allocation in {@link OffHeapAllocatorConfig#leakSampleOneIn(int)} (default {@value #SAMPLE_ONE_IN}), at
     * random, carries its allocation stack.
     */
    SAMPLED,
    /** Every allocation carries its allocation stack: for tests and staging, it costs a stack walk each. */
    PARANOID;

    /** The default sampling rate of {@link #SAMPLED}. */
    public static final int SAMPLE_ONE_IN = 64;
}
