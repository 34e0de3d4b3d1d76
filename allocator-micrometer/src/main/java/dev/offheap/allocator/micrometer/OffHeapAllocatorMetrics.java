package dev.offheap.allocator.micrometer;

import dev.offheap.allocator.offheap.OffHeapAllocator;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.BaseUnits;
import io.micrometer.core.instrument.binder.MeterBinder;

import java.util.Objects;
import java.util.function.ToDoubleFunction;

/**
 * Micrometer meters for an {@link OffHeapAllocator}, tagged {@code allocator=<name>}:
 *
 * <table>
 *   <caption>Meters</caption>
 *   <tr><th>name</th><th>type</th><th>what</th></tr>
 *   <tr><td>{@code offheap.memory.max}</td><td>gauge, bytes</td><td>{@code maxBytes}, the cap on committed memory</td></tr>
 *   <tr><td>{@code offheap.memory.committed}</td><td>gauge, bytes</td><td>pages that may be resident</td></tr>
 *   <tr><td>{@code offheap.memory.headroom}</td><td>gauge, bytes</td><td>what may still be committed</td></tr>
 *   <tr><td>{@code offheap.memory.reserved}</td><td>gauge, bytes</td><td>address space reserved</td></tr>
 *   <tr><td>{@code offheap.memory.allocated}</td><td>gauge, bytes</td><td>in live blocks</td></tr>
 *   <tr><td>{@code offheap.memory.thread.cached}</td><td>gauge, bytes</td><td>free in caches' slabs</td></tr>
 *   <tr><td>{@code offheap.memory.free}</td><td>gauge, bytes</td><td>committed and free, not in a cache</td></tr>
 *   <tr><td>{@code offheap.blocks.live}</td><td>gauge</td><td>live blocks</td></tr>
 *   <tr><td>{@code offheap.allocations}, {@code offheap.frees}</td><td>function counters</td><td>since creation</td></tr>
 *   <tr><td>{@code offheap.refusals}</td><td>function counter</td><td>allocations refused (the cap)</td></tr>
 *   <tr><td>{@code offheap.purges}</td><td>function counter</td><td>purges that gave memory back</td></tr>
 *   <tr><td>{@code offheap.purged}</td><td>function counter, bytes</td><td>bytes handed back to the OS</td></tr>
 *   <tr><td>{@code offheap.caches}</td><td>gauge</td><td>thread and shared caches</td></tr>
 * </table>
 *
 * The committed, headroom and counter figures are read without a walk; the figures that need one
 * ({@link OffHeapAllocator#stats()}: allocated, thread-cached, free, live blocks, allocations, frees) share the
 * allocator's {@link OffHeapAllocator#recentStats()}, at most a second old. After the allocator is closed every meter
 * reads 0 (a closed allocator has no memory).
 *
 * <pre>{@code
 * new OffHeapAllocatorMetrics(allocator).bindTo(registry);
 * }</pre>
 */
public final class OffHeapAllocatorMetrics implements MeterBinder {

    private final OffHeapAllocator allocator;
    private final Iterable<Tag> tags;

    public OffHeapAllocatorMetrics(OffHeapAllocator allocator) {
        this(allocator, Tags.empty());
    }

    public OffHeapAllocatorMetrics(OffHeapAllocator allocator, Iterable<Tag> extraTags) {
        this.allocator = Objects.requireNonNull(allocator, "allocator");
        this.tags = Tags.concat(extraTags, "allocator", allocator.name());
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        bytes(registry, "offheap.memory.max", "maxBytes: the cap on committed memory",
                a -> a.isClosed() ? 0 : a.maxBytes());
        bytes(registry, "offheap.memory.committed", "memory that may be resident: the figure the cap bounds",
                OffHeapAllocator::committedBytes);
        bytes(registry, "offheap.memory.headroom", "what may still be committed before the cap",
                OffHeapAllocator::headroomBytes);
        bytes(registry, "offheap.memory.reserved", "address space reserved", a -> a.recentStats().reservedBytes());
        bytes(registry, "offheap.memory.allocated", "bytes in live blocks", a -> a.recentStats().allocatedBytes());
        bytes(registry, "offheap.memory.thread.cached", "free bytes in slabs that thread caches hold",
                a -> a.recentStats().threadCachedBytes());
        bytes(registry, "offheap.memory.free", "committed bytes free outside thread caches",
                a -> a.recentStats().freeBytes());
        Gauge.builder("offheap.blocks.live", allocator, a -> a.recentStats().liveBlocks()).tags(tags)
                .description("live blocks").register(registry);
        Gauge.builder("offheap.caches", allocator, a -> a.isClosed() ? 0 : a.cacheCount()).tags(tags)
                .description("thread caches and shared caches").register(registry);
        FunctionCounter.builder("offheap.allocations", allocator, a -> a.recentStats().allocations()).tags(tags)
                .description("allocations since creation").register(registry);
        FunctionCounter.builder("offheap.frees", allocator, a -> a.recentStats().frees()).tags(tags)
                .description("frees since creation").register(registry);
        FunctionCounter.builder("offheap.refusals", allocator, OffHeapAllocator::refusals).tags(tags)
                .description("allocations refused: the cap reached").register(registry);
        FunctionCounter.builder("offheap.purges", allocator, OffHeapAllocator::purgeCount).tags(tags)
                .description("purges that handed memory back to the OS").register(registry);
        FunctionCounter.builder("offheap.purged", allocator, OffHeapAllocator::purgedBytes).tags(tags)
                .baseUnit(BaseUnits.BYTES).description("bytes handed back to the OS").register(registry);
    }

    private void bytes(MeterRegistry registry, String name, String description,
                       ToDoubleFunction<OffHeapAllocator> value) {
        Gauge.builder(name, allocator, value).tags(tags).baseUnit(BaseUnits.BYTES).description(description)
                .register(registry);
    }

}
