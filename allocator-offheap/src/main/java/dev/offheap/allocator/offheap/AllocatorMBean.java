package dev.offheap.allocator.offheap;

import dev.offheap.allocator.AllocatorStats;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.management.InstanceAlreadyExistsException;
import javax.management.JMException;
import javax.management.MBeanServer;
import javax.management.ObjectName;
import java.lang.management.ManagementFactory;
import java.util.function.Supplier;

/**
 * The JMX view of one allocator. It holds the global heap, not the allocator, so an allocator that is
 * dropped without {@code close()} can still be found unreachable and released by its cleaner.
 */
final class AllocatorMBean implements OffHeapAllocatorMXBean {
    private static final Logger LOG = LoggerFactory.getLogger(AllocatorMBean.class);

    private final GlobalHeap heap;
    private final ObjectName objectName;
    /** The allocator's {@link OffHeapAllocator#recentStats()}: the getters that need a walk share its snapshot. */
    private final Supplier<AllocatorStats> recentStats;

    private AllocatorMBean(GlobalHeap heap, ObjectName objectName, Supplier<AllocatorStats> recentStats) {
        this.heap = heap;
        this.objectName = objectName;
        this.recentStats = recentStats;
    }

    /**
     * Registers the view of {@code heap}; a second allocator with the same name gets {@code name-2}, and so on.
     *
     * @return the registered view, or null if JMX refused (logged; the allocator works without it)
     */
    static AllocatorMBean register(GlobalHeap heap, Supplier<AllocatorStats> recentStats) {
        MBeanServer server = ManagementFactory.getPlatformMBeanServer();
        for (int n = 1; n < 1000; n++) {
            try {
                String name = n == 1 ? heap.name : heap.name + "-" + n;
                // Quoted only when the name holds a character an ObjectName value may not: name=<name> otherwise.
                ObjectName objectName = new ObjectName("dev.offheap.allocator:type=OffHeapAllocator,name="
                        + (name.matches("[^,=:*?\"\\\n]*") ? name : ObjectName.quote(name)));
                AllocatorMBean bean = new AllocatorMBean(heap, objectName, recentStats);
                server.registerMBean(bean, objectName);
                return bean;
            } catch (InstanceAlreadyExistsException taken) {
                // try the next suffix
            } catch (JMException | RuntimeException e) {
                LOG.warn("OffHeapAllocator '{}': not registered with JMX ({})", heap.name, e.toString());
                return null;
            }
        }
        LOG.warn("OffHeapAllocator '{}': not registered with JMX (1,000 allocators share its name)", heap.name);
        return null;
    }

    void unregister() {
        try {
            ManagementFactory.getPlatformMBeanServer().unregisterMBean(objectName);
        } catch (JMException e) {
            LOG.debug("OffHeapAllocator '{}': JMX unregistration: {}", heap.name, e.toString());
        }
    }

    ObjectName objectName() {
        return objectName;
    }

    private AllocatorStats stats() {
        return recentStats.get();
    }

    @Override
    public String getName() {
        return heap.name;
    }

    @Override
    public long getMaxBytes() {
        return heap.maxBytes;
    }

    @Override
    public long getReservedBytes() {
        return heap.rangeBytes;
    }

    @Override
    public long getCommittedBytes() {
        return heap.committedBytes();
    }

    @Override
    public long getAllocatedBytes() {
        return stats().allocatedBytes();
    }

    @Override
    public long getThreadCachedBytes() {
        return stats().threadCachedBytes();
    }

    @Override
    public long getFreeBytes() {
        return stats().freeBytes();
    }

    @Override
    public long getHeadroomBytes() {
        return heap.headroomBytes();
    }

    @Override
    public long getLiveBlocks() {
        return stats().liveBlocks();
    }

    @Override
    public long getAllocations() {
        return stats().allocations();
    }

    @Override
    public long getFrees() {
        return stats().frees();
    }

    @Override
    public double getFragmentation() {
        return stats().fragmentation();
    }

    @Override
    public int getCacheCount() {
        return heap.cacheCount();
    }

    @Override
    public long getPurgeCount() {
        return heap.purges();
    }

    @Override
    public long getPurgedBytes() {
        return heap.purgedBytes();
    }

    @Override
    public String getReport() {
        return stats().report("OffHeapAllocator '" + heap.name + "'");
    }
}
