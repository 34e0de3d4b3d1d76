package dev.offheap.allocator.offheap;

/**
 * What an {@link OffHeapAllocator} shows through JMX, under
 * {@code dev.offheap.allocator:type=OffHeapAllocator,name=<its name>} (a second allocator of the same name
 * gets {@code <name>-2}), visible in jconsole, VisualVM or any JMX client. Registered when the allocator is
 * created with {@link OffHeapAllocatorConfig#jmx(boolean) jmx(true)} (or {@code -Doffheap.jmx=true}), unregistered
 * when it is closed. Every figure is what {@link OffHeapAllocator#stats()} reports (reserved and committed bytes
 * read without its walk over the slabs); none reads -1. The figures that need the walk share one snapshot, up to
 * a second old, so that an agent polling every attribute walks the heap (and takes its locks) at most once a
 * second.
 */
public interface OffHeapAllocatorMXBean {
    String getName();

    long getMaxBytes();

    long getReservedBytes();

    long getCommittedBytes();

    long getAllocatedBytes();

    long getThreadCachedBytes();

    long getFreeBytes();

    /** {@code maxBytes} minus the bytes taken in spans: what can still be taken before the cap. */
    long getHeadroomBytes();

    long getLiveBlocks();

    long getAllocations();

    long getFrees();

    /** Committed bytes per live byte (1.0 is perfect). */
    double getFragmentation();

    int getCacheCount();

    long getPurgeCount();

    long getPurgedBytes();

    /** The per-size-class table of {@link OffHeapAllocator#report()}. */
    String getReport();
}
