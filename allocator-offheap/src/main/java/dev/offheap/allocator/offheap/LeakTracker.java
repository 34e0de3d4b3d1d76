package dev.offheap.allocator.offheap;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;

import static dev.offheap.allocator.internal.Checks.hex;

/**
 * Leak detection ({@link LeakDetection#SAMPLED} or {@link LeakDetection#PARANOID}): the allocation stacks of
 * live blocks, by address, for {@link OffHeapAllocator#liveBlocks()} and the report at close. With it on, every
 * call takes the allocator's slow paths (a stack walk for the sampled allocations, a map update on every free).
 * Thread-safe.
 */
final class LeakTracker {

    private static final Logger LOG = LoggerFactory.getLogger(LeakTracker.class);

    private final boolean sampled;
    private final int sampleOneIn;
    private final ConcurrentHashMap<Long, StackTraceElement[]> stacks = new ConcurrentHashMap<>();

    LeakTracker(LeakDetection mode, int sampleOneIn) {
        this.sampled = mode == LeakDetection.SAMPLED;
        this.sampleOneIn = sampleOneIn;
    }

    /** After an allocation: records its stack (always, or one time in {@code sampleOneIn}). */
    void allocated(long address) {
        if (!sampled || ThreadLocalRandom.current().nextInt(sampleOneIn) == 0) {
            stacks.put(address, new Throwable().getStackTrace());
        }
    }

    /** After a free that went through (a rejected one changes nothing). */
    void freed(long address) {
        stacks.remove(address);
    }

    /** The recorded stack of a live block, or an empty list. */
    List<StackTraceElement> stackOf(long address) {
        StackTraceElement[] stack = stacks.get(address);
        return stack == null ? List.of() : List.of(stack);
    }

    /** Logs the blocks still live at close, at error, with the first recorded stacks. */
    static void report(String name, List<LiveBlock> leaked) {
        if (leaked.isEmpty()) {
            return;
        }
        long bytes = leaked.stream().mapToLong(LiveBlock::usableBytes).sum();
        StringBuilder detail = new StringBuilder();
        leaked.stream().filter(b -> !b.allocationStack().isEmpty()).limit(10).forEach(b -> {
            detail.append(System.lineSeparator()).append("  ").append(hex(b.address())).append(" (")
                    .append(b.usableBytes()).append(" B) allocated at:");
            b.allocationStack().stream().skip(1).limit(12).forEach(frame ->
                    detail.append(System.lineSeparator()).append("      at ").append(frame));
        });
        LOG.error("OffHeapAllocator '{}' closed with {} live blocks ({} bytes): a leak, unless the program meant"
                + " to drop them; the first with recorded stacks:{}", name, leaked.size(), bytes, detail);
    }
}
