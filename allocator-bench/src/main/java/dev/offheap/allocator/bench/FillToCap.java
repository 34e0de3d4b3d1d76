package dev.offheap.allocator.bench;

import dev.offheap.allocator.AllocatorStats;
import dev.offheap.allocator.OffHeapOutOfMemoryException;
import dev.offheap.allocator.offheap.OffHeapAllocator;
import dev.offheap.allocator.offheap.OffHeapAllocatorConfig;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Workload {@code fill}: how much of {@code maxBytes} a user gets. Each thread keeps a slowly growing set of live
 * blocks: at every step it replaces a random live block (frees it, allocates another of a fresh size), and one step
 * in {@value #GROW_ONE_IN} it only allocates, until the first refusal anywhere. The churn is the point: a heap that
 * only grows is easy to fill. Printed at that moment, over the cap: the bytes asked for by live blocks, their
 * usable bytes, the most committed seen (sampled by a thread of its own, and read once more at the refusal), where
 * the rest was (free slots in thread caches, free space in the heap: {@link AllocatorStats}, read by the refused
 * thread while the others go on until they see the refusal), the refusal's reason and the refused size. Runs alone:
 *
 * <pre>java --enable-native-access=ALL-UNNAMED -cp ... dev.offheap.allocator.bench.FillToCap [mix] [threads]</pre>
 *
 * Mixes: {@code frag} (97% of sizes log-uniform 1 B-16 KiB, 2.8% 64 KiB-1 MiB, 0.2% 1-4 MiB), {@code to128k}
 * (log-uniform 16 B-128 KiB), {@code small} (uniform 16-512 B).
 */
public final class FillToCap {

    static final long CAP = 256L << 20;
    static final List<String> MIXES = List.of("frag", "to128k", "small");
    /** One step in this many grows the live set; the others replace a live block. */
    static final int GROW_ONE_IN = 8;

    private FillToCap() {
    }

    /**
     * One run's figures, each over the cap; at the refusal, where the rest of the cap was: free slots in thread
     * caches, free space in the heap (medium chunks' free space, queued slabs); and the refused request's size.
     */
    record Result(String mix, int threads, double asked, double usable, double committed, double threadCached,
                  double heapFree, String reason, long refusedBytes) {
        String line() {
            return String.format(Locale.ROOT, "RESULT fill mix=%s threads=%d asked=%.4f usable=%.4f committed=%.4f"
                    + " threadCached=%.4f heapFree=%.4f reason=%s refusedBytes=%d", mix, threads, asked, usable,
                    committed, threadCached, heapFree, reason, refusedBytes);
        }
    }

    public static void main(String[] args) throws Exception {
        List<String> mixes = args.length > 0 ? List.of(args[0]) : MIXES;
        List<Integer> threadCounts = args.length > 1 ? List.of(Integer.parseInt(args[1])) : List.of(1, 8);
        for (String mix : mixes) {
            for (int threads : threadCounts) {
                System.out.println(run(mix, threads).line());
            }
        }
    }

    static long size(String mix, SplittableRandom random) {
        return switch (mix) {
            case "frag" -> {
                int kind = random.nextInt(1000);
                yield kind < 970 ? logUniform(random, 1, 16 << 10)
                        : kind < 998 ? logUniform(random, 64 << 10, 1 << 20) : logUniform(random, 1 << 20, 4 << 20);
            }
            case "to128k" -> logUniform(random, 16, 128 << 10);
            case "small" -> random.nextLong(16, 513);
            default -> throw new IllegalArgumentException("unknown mix '" + mix + "'; known: " + MIXES);
        };
    }

    private static long logUniform(SplittableRandom random, long from, long to) {
        return (long) Math.exp(Math.log(from) + random.nextDouble() * (Math.log(to) - Math.log(from)));
    }

    static Result run(String mix, int threads) throws InterruptedException {
        size(mix, new SplittableRandom(0)); // an unknown mix fails here, before any thread starts
        try (OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("fill-" + mix)
                .maxBytes(CAP))) {
            AtomicBoolean refused = new AtomicBoolean();
            AtomicReference<String> reason = new AtomicReference<>();
            AtomicLong asked = new AtomicLong();
            AtomicLong usable = new AtomicLong();
            AtomicLong peakCommitted = new AtomicLong();
            AtomicReference<AllocatorStats> atRefusal = new AtomicReference<>();
            AtomicLong refusedBytes = new AtomicLong();
            AtomicReference<Throwable> error = new AtomicReference<>();
            CountDownLatch stopped = new CountDownLatch(threads);
            CountDownLatch freed = new CountDownLatch(1);
            List<Thread> workers = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int seed = 42 + t;
                workers.add(Thread.ofPlatform().name("fill-" + t).start(() -> {
                    List<long[]> live = new ArrayList<>(); // {address, asked, usable}
                    SplittableRandom random = new SplittableRandom(seed);
                    try {
                        while (!refused.get()) {
                            if (!live.isEmpty() && random.nextInt(GROW_ONE_IN) != 0) {
                                int victim = random.nextInt(live.size());
                                long[] block = live.get(victim);
                                allocator.free(block[0]);
                                asked.addAndGet(-block[1]);
                                usable.addAndGet(-block[2]);
                                live.set(victim, live.getLast());
                                live.removeLast();
                            }
                            long size = size(mix, random);
                            long address;
                            try {
                                address = allocator.allocate(size);
                            } catch (RuntimeException failed) {
                                if (!(failed instanceof OffHeapOutOfMemoryException)) {
                                    error.compareAndSet(null, failed); // reported by the main thread: no hang
                                    refused.set(true);
                                    break;
                                }
                                if (refused.compareAndSet(false, true)) {
                                    peakCommitted.accumulateAndGet(allocator.committedBytes(), Math::max);
                                    reason.set(failed.getMessage());
                                    refusedBytes.set(size);
                                    atRefusal.set(allocator.stats());
                                }
                                break;
                            }
                            long blockUsable = allocator.usableSize(address);
                            live.add(new long[] {address, size, blockUsable});
                            asked.addAndGet(size);
                            usable.addAndGet(blockUsable);
                        }
                        stopped.countDown();
                        freed.await(); // the figures are read with every block still live
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    } catch (RuntimeException | Error e) {
                        error.compareAndSet(null, e); // from free or usableSize
                        refused.set(true);
                        stopped.countDown();
                    } finally {
                        for (long[] block : live) {
                            allocator.free(block[0]);
                        }
                    }
                }));
            }
            Thread sampler = Thread.ofPlatform().daemon().start(() -> {
                while (!refused.get()) {
                    peakCommitted.accumulateAndGet(allocator.committedBytes(), Math::max);
                    Thread.onSpinWait();
                }
            });
            stopped.await();
            if (error.get() != null) {
                freed.countDown();
                throw new IllegalStateException("fill " + mix + " on " + threads + " threads failed", error.get());
            }
            AllocatorStats stats = atRefusal.get();
            Result result = new Result(mix, threads, asked.get() / (double) CAP, usable.get() / (double) CAP,
                    peakCommitted.get() / (double) CAP,
                    stats == null ? 0 : stats.threadCachedBytes() / (double) CAP,
                    stats == null ? 0 : stats.freeBytes() / (double) CAP, kindOf(reason.get()), refusedBytes.get());
            freed.countDown();
            for (Thread worker : workers) {
                worker.join();
            }
            sampler.join();
            return result;
        }
    }

    /** The refusal's kind, in a word the table can show: the cap, or no contiguous run. */
    private static String kindOf(String message) {
        if (message == null) {
            return "none";
        }
        return message.contains("at its cap") ? "cap" : message.contains("no run") ? "no-run" : "other";
    }
}
