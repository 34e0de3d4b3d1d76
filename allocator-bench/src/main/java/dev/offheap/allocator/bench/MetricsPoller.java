package dev.offheap.allocator.bench;

import javax.management.JMException;
import javax.management.MBeanAttributeInfo;
import javax.management.MBeanServer;
import javax.management.ObjectName;
import java.lang.management.ManagementFactory;
import java.util.concurrent.locks.LockSupport;

/**
 * A monitoring agent inside a benchmark's JVM: with {@code -Dbench.pollMillis=N}, a daemon thread reads every
 * attribute but the report of every {@code OffHeapAllocator} MBean (JMX on: {@code -Doffheap.jmx=true}) every N
 * ms, as a metrics exporter polling the MBeans would. Workload {@code metrics} runs the pair and
 * producer/consumer with and without it: the metrics must not cost the allocating threads anything.
 */
final class MetricsPoller implements AutoCloseable {
    static final String PROPERTY = "bench.pollMillis";

    private final Thread thread;
    private volatile boolean running = true;
    /** Reads done, so that a poller that found no MBean shows as such. */
    private volatile long reads;

    private MetricsPoller(long periodNanos) {
        thread = Thread.ofPlatform().daemon().name("metrics-poller").start(() -> poll(periodNanos));
    }

    /** A running poller if {@value #PROPERTY} asks for one, else null. */
    static MetricsPoller startIfAsked() {
        long millis = Long.getLong(PROPERTY, 0);
        return millis > 0 ? new MetricsPoller(millis * 1_000_000) : null;
    }

    private void poll(long periodNanos) {
        MBeanServer server = ManagementFactory.getPlatformMBeanServer();
        long sink = 0;
        try {
            ObjectName pattern = new ObjectName("dev.offheap.allocator:type=OffHeapAllocator,*");
            while (running) {
                for (ObjectName name : server.queryNames(pattern, null)) {
                    for (MBeanAttributeInfo attribute : server.getMBeanInfo(name).getAttributes()) {
                        if (!attribute.getName().equals("Report")) { // the full walk: report() is not polled
                            Object value = server.getAttribute(name, attribute.getName());
                            sink += value == null ? 0 : value.hashCode();
                            reads++;
                        }
                    }
                }
                LockSupport.parkNanos(periodNanos);
            }
        } catch (JMException e) {
            throw new IllegalStateException("metrics poller: " + e, e);
        }
        if (sink == 42) {
            System.out.print(""); // keeps the reads from being optimised away
        }
    }

    long reads() {
        return reads;
    }

    @Override
    public void close() {
        running = false;
        LockSupport.unpark(thread);
        try {
            thread.join(1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (reads == 0) {
            throw new IllegalStateException("metrics poller: no OffHeapAllocator MBean found (run with"
                    + " -Doffheap.jmx=true and an offheap peer)");
        }
    }
}
