package dev.offheap.allocator.bench;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Memory under a cache's churn, for an allocator alone: {@value #THREADS} threads keep {@value #LIVE_MIB} MiB of
 * live blocks by random replacement, as a cache's puts and evictions do. Each step allocates a block of the cache
 * workload's entry sizes (its value sizes, 16 B to 128 KiB with half under 256 B, plus
 * {@value #ENTRY_OVERHEAD} bytes of header and key), writes all of it, puts it in a random slot of a shared table
 * (freeing what was there, often another thread's block), then frees blocks from random slots until the live
 * bytes are back at the target. After a fill and {@value #ROUNDS} rounds of {@value #STEPS_PER_ROUND} steps a
 * thread (new threads each round, as a pool's come and go), it prints one {@code RESULT} line: growth of resident
 * memory over the live bytes asked for, at the end and at the peak (VmHWM), and the allocator's own committed
 * figure where it has one. Every peer frees at random places, so what is measured is what a non-moving
 * allocator keeps for the holes: the figure a cache's {@code capacityBytes} has to allow for.
 *
 * <p>Usage: {@code ChurnBench PEER}. Only thread-safe peers with address handles (ours and the mallocs).
 */
public final class ChurnBench {
    static final int LIVE_MIB = 256;
    static final int THREADS = 2;
    static final int ROUNDS = 3;
    static final int STEPS_PER_ROUND = 1_500_000;
    /** An entry's header and an 8-byte key, beside its value: what the cache allocates. */
    static final int ENTRY_OVERHEAD = 64;
    /** Slots of the shared table: about twice the live blocks (1.5 KB on average), so most steps replace none. */
    private static final int SLOTS = 1 << 19;
    private static final int KEYS = 200_000;

    private ChurnBench() {
    }

    public static void main(String[] args) throws InterruptedException {
        String peerName = args[0];
        long target = (long) LIVE_MIB << 20;
        try (Peer peer = Peer.create(peerName, 4 * target, 1 << 20)) {
            if (!peer.threadSafe()) {
                throw new IllegalArgumentException("churn needs a thread-safe peer with address handles; "
                        + peerName + " keeps its blocks in a single-threaded table");
            }
            Table table = new Table(peer); // its 8 MB of slots on the heap before the baseline: not the peer's
            long baseline = ResidentMemory.baseline();
            table.round(target, 0, STEPS_PER_ROUND / 4); // the fill, and a first turnover
            for (int round = 1; round <= ROUNDS; round++) {
                table.round(target, round, STEPS_PER_ROUND);
                System.out.printf(Locale.ROOT, "round %d: live %d, resident growth %d, committed %d%n", round,
                        table.live.get(), ResidentMemory.status("VmRSS") - baseline, peer.committedBytes());
            }
            long live = table.live.get();
            long growth = ResidentMemory.status("VmRSS") - baseline;
            long peak = ResidentMemory.status("VmHWM") - baseline;
            long committed = peer.committedBytes();
            System.out.printf(Locale.ROOT, "RESULT peer=%s live=%d rssGrowth=%d peakGrowth=%d committed=%d"
                            + " ratio=%.3f peakRatio=%.3f%n", peerName, live, growth, peak, committed,
                    growth / (double) live, peak / (double) target);
            table.freeAll();
        }
    }

    /** The shared slots and the live bytes in them. */
    private static final class Table {
        final Peer peer;
        final AtomicLongArray address = new AtomicLongArray(SLOTS);
        final AtomicLongArray bytes = new AtomicLongArray(SLOTS);
        final AtomicLong live = new AtomicLong();
        final AtomicReference<Throwable> failure = new AtomicReference<>();

        Table(Peer peer) {
            this.peer = peer;
        }

        void round(long target, int round, int steps) throws InterruptedException {
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                SplittableRandom random = new SplittableRandom(round * 1000L + t);
                threads.add(Thread.ofPlatform().start(() -> {
                    try {
                        for (int i = 0; i < steps && failure.get() == null; i++) {
                            step(random, target);
                        }
                    } catch (RuntimeException | Error e) {
                        failure.compareAndSet(null, e);
                    }
                }));
            }
            for (Thread thread : threads) {
                thread.join();
            }
            if (failure.get() != null) {
                throw new IllegalStateException("a thread failed: " + failure.get(), failure.get());
            }
        }

        private void step(SplittableRandom random, long target) {
            long size = CacheBench.valueOf(random.nextInt(KEYS)).length + ENTRY_OVERHEAD;
            long block = peer.allocate(size);
            MemorySegment.ofAddress(block).reinterpret(size).fill((byte) size);
            int slot = random.nextInt(SLOTS);
            live.addAndGet(size);
            release(address.getAndSet(slot, block), bytes.getAndSet(slot, size));
            while (live.get() > target) {
                int victim = random.nextInt(SLOTS);
                release(address.getAndSet(victim, 0), bytes.getAndSet(victim, 0));
            }
        }

        /**
         * Frees what a slot held. The two swaps are not one atomic step: a racing thread may swap the size after
         * this one swapped the address, so the size is taken from the slot's pair as each thread saw it; the
         * live total is off by a block at most for that moment, never for good.
         */
        private void release(long block, long size) {
            if (block != 0) {
                peer.free(block);
            }
            live.addAndGet(-size);
        }

        void freeAll() {
            for (int slot = 0; slot < SLOTS; slot++) {
                release(address.getAndSet(slot, 0), bytes.getAndSet(slot, 0));
            }
        }
    }
}
