package dev.offheap.allocator.bench;

import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Workload 5, in the manner of larson: each thread owns an array of slots; a step frees a random slot's block
 * and allocates a new one of a uniform size in [8, 1000). Every {@value #ROUNDS_PER_THREAD} steps a thread
 * hands its slots to a new thread and ends, so blocks allocated by a thread are freed by its successor, and
 * dead threads' caches must be reclaimed. Runs in a JVM of its own and prints one {@code RESULT} line with
 * steps per microsecond over all threads.
 *
 * <p>Only peers whose handles are addresses usable from any thread take part (ours and the mallocs).
 */
public final class Larson {
    private static final int SLOTS = 1000;
    private static final int ROUNDS_PER_THREAD = 20_000;
    /** The first exception a lane threw; the lanes stop at it. */
    private static final AtomicReference<Throwable> FAILURE = new AtomicReference<>();

    private Larson() {
    }

    public static void main(String[] args) throws InterruptedException {
        String peerName = args[0];
        int threads = Integer.parseInt(args[1]);
        double seconds = Double.parseDouble(args[2]);
        try (Peer peer = Peer.create(peerName, 1L << 30, 1000)) {
            if (!peer.threadSafe()) {
                // Its handles index a single-threaded table: lanes on several threads would corrupt it, and a
                // lane that then threw while freeing its slots left the others (and the harness) waiting.
                throw new IllegalArgumentException("larson needs a thread-safe peer with address handles; "
                        + peerName + " keeps its blocks in a single-threaded table");
            }
            run(peer, threads, Math.max(0.5, seconds / 3)); // warm-up
            long steps = run(peer, threads, seconds);
            if (FAILURE.get() != null) {
                // A lane that threw (a refused allocation) ends the run with its exception, for the harness's
                // row: before, the other lanes waited for it forever and the harness with them.
                throw new IllegalStateException("a lane failed: " + FAILURE.get(), FAILURE.get());
            }
            System.out.printf(Locale.ROOT, "RESULT peer=%s threads=%d stepsPerMicrosecond=%.2f%n", peerName, threads,
                    steps / (seconds * 1e6));
        }
    }

    private static long run(Peer peer, int threads, double seconds) throws InterruptedException {
        AtomicLong steps = new AtomicLong();
        CountDownLatch finished = new CountDownLatch(threads);
        long deadline = System.nanoTime() + (long) (seconds * 1e9);
        for (int t = 0; t < threads; t++) {
            long[] slots = new long[SLOTS];
            SplittableRandom random = new SplittableRandom(t);
            for (int i = 0; i < SLOTS; i++) {
                slots[i] = peer.allocate(random.nextLong(8, 1000));
            }
            Thread.ofPlatform().start(() -> lane(peer, slots, random, deadline, steps, finished));
        }
        finished.await();
        return steps.get();
    }

    /**
     * One thread of a lane: its rounds over the lane's slots, then either the end of the lane (past the
     * deadline: free everything) or a successor thread that takes the slots over while this one ends.
     */
    private static void lane(Peer peer, long[] slots, SplittableRandom random, long deadline, AtomicLong steps,
                             CountDownLatch finished) {
        try {
            for (int i = 0; i < ROUNDS_PER_THREAD; i++) {
                int slot = random.nextInt(SLOTS);
                peer.free(slots[slot]);
                long size = random.nextLong(8, 1000);
                slots[slot] = peer.allocate(size);
                peer.touch(slots[slot], size);
            }
        } catch (RuntimeException | Error e) {
            FAILURE.compareAndSet(null, e);
            finished.countDown();
            return;
        }
        steps.addAndGet(ROUNDS_PER_THREAD);
        if (System.nanoTime() >= deadline || FAILURE.get() != null) {
            try {
                peer.freeAll(slots);
            } catch (RuntimeException | Error e) {
                FAILURE.compareAndSet(null, e);
            } finally {
                finished.countDown(); // whatever happened: the run must end
            }
            return;
        }
        Thread.ofPlatform().start(() -> lane(peer, slots, random, deadline, steps, finished));
    }
}
