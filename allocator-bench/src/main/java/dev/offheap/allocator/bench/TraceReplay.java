package dev.offheap.allocator.bench;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Replays one trace against one peer, in a JVM of its own (the harness starts one per peer and trace), and
 * prints one {@code RESULT} line: time (the median of five replays after 1.5 s of warm-up replays), peak live
 * bytes, and peak memory: the growth of resident memory (VmHWM over the VmRSS before the replays, read once
 * logging has started: {@link ResidentMemory}), the same measure for every peer (the harness pre-touches the Java
 * heap, so its growth is not in it; the JVM's other memory is, and a library that loads more classes pays for
 * them); for peers that report committed bytes also the most they reported, read every 4,096 events (on several
 * threads: every millisecond, by a sampler thread; for OffHeapAllocator a read is one counter, without a lock).
 *
 * <p>With {@code threads} (the third argument) a multi-threaded trace is replayed on as many threads as it
 * names: each thread performs its own events in trace order, and an event waits until the block's previous
 * event (its allocation, a resize) has been performed, by whichever thread, so each block's own order is kept
 * and cross-thread frees stay cross-thread. Only thread-safe peers with address handles can do that.
 * Without it, every event runs on one thread in trace order.
 */
public final class TraceReplay {
    private static final int MEASURED_REPLAYS = 5;
    private static final long WARMUP_NANOS = 1_500_000_000L;

    private TraceReplay() {
    }

    public static void main(String[] args) throws IOException {
        if (args.length < 2 || args.length > 3 || args.length == 3 && !args[2].equals("threads")) {
            System.err.println("usage: TraceReplay <trace file> <peer> [threads]");
            System.exit(2);
        }
        boolean threaded = args.length == 3;
        Trace trace = Trace.read(Path.of(args[0]));
        String peerName = args[1];
        long rssBefore = ResidentMemory.baseline();
        try (Peer peer = Peer.create(peerName, 1L << 30, 1 << 20)) {
            // A short trace replays in milliseconds, far less than the JIT needs to settle (a second replay in a
            // fresh JVM took 25-90 ms for javac's trace, a warm one 4 ms): replays warm up for WARMUP_NANOS, then
            // the median of five is the figure, as JMH would measure a steady state.
            long peakCommitted = 0;
            long[] nanos = new long[MEASURED_REPLAYS];
            Result result = null;
            long warmUntil = System.nanoTime() + WARMUP_NANOS;
            do {
                result = threaded ? replayThreaded(trace, peer) : replay(trace, peer);
                peakCommitted = Math.max(peakCommitted, result.peakCommitted);
            } while (System.nanoTime() < warmUntil);
            for (int i = 0; i < MEASURED_REPLAYS; i++) {
                result = threaded ? replayThreaded(trace, peer) : replay(trace, peer);
                peakCommitted = Math.max(peakCommitted, result.peakCommitted);
                nanos[i] = result.nanos;
            }
            java.util.Arrays.sort(nanos);
            result = new Result(nanos[MEASURED_REPLAYS / 2], result.peakLive, peakCommitted);
            long residentGrowth = ResidentMemory.status("VmHWM") - rssBefore;
            System.out.printf(Locale.ROOT, "RESULT trace=%s peer=%s threads=%d events=%d millis=%.1f nsPerEvent=%.1f"
                            + " peakLive=%d peakMemory=%d memoryKind=rss-growth%s%n", trace.name, peerName,
                    threaded ? trace.threads : 1, trace.events,
                    result.nanos / 1e6, (double) result.nanos / trace.events, result.peakLive, residentGrowth,
                    peer.committedBytes() >= 0 ? " peakCommitted=" + peakCommitted : "");
        }
    }

    private record Result(long nanos, long peakLive, long peakCommitted) {
    }

    private static Result replay(Trace trace, Peer peer) {
        long[] handles = new long[trace.ids];
        long[] sizes = new long[trace.ids];
        boolean[] live = new boolean[trace.ids];
        boolean sampleCommitted = peer.committedBytes() >= 0;
        long liveBytes = 0;
        long peakLive = 0;
        long peakCommitted = 0;
        long start = System.nanoTime();
        for (int e = 0; e < trace.events; e++) {
            int id = trace.id[e];
            switch (trace.kind[e]) {
                case Trace.ALLOCATE -> {
                    long size = trace.size[e];
                    handles[id] = trace.alignment[e] > 16 ? peer.allocateAligned(size, trace.alignment[e])
                            : peer.allocate(size);
                    peer.touch(handles[id], size);
                    sizes[id] = size;
                    live[id] = true;
                    liveBytes += size;
                }
                case Trace.RESIZE -> {
                    long size = trace.size[e];
                    handles[id] = peer.reallocate(handles[id], sizes[id], Math.max(size, 1));
                    peer.touch(handles[id], size);
                    liveBytes += size - sizes[id];
                    sizes[id] = size;
                }
                default -> {
                    peer.free(handles[id]);
                    live[id] = false;
                    liveBytes -= sizes[id];
                }
            }
            if (liveBytes > peakLive) {
                peakLive = liveBytes;
            }
            if (sampleCommitted && (e & 4095) == 0) {
                peakCommitted = Math.max(peakCommitted, peer.committedBytes());
            }
        }
        long nanos = System.nanoTime() - start;
        for (int id = 0; id < trace.ids; id++) {
            if (live[id]) {
                peer.free(handles[id]);
            }
        }
        return new Result(nanos, peakLive, peakCommitted);
    }

    /**
     * The threaded replay: thread {@code t} performs the events of trace thread {@code t}; an event on a block
     * first waits for the block's progress counter to reach the event's ordinal (0 for the allocation, then
     * 1, 2, ... for its resizes and the free), then bumps it. The volatile counter publishes the handle too.
     * Waiting is only ever on an event earlier in the trace, so the replay cannot deadlock.
     */
    private static Result replayThreaded(Trace trace, Peer peer) {
        int[] ordinal = new int[trace.events];
        int[] seen = new int[trace.ids];
        for (int e = 0; e < trace.events; e++) {
            ordinal[e] = seen[trace.id[e]]++;
        }
        long[] handles = new long[trace.ids];
        long[] sizes = new long[trace.ids];
        AtomicIntegerArray progress = new AtomicIntegerArray(trace.ids);
        AtomicLong liveBytes = new AtomicLong();
        AtomicLong peakLive = new AtomicLong();
        Thread[] threads = new Thread[trace.threads];
        AtomicLong peakCommitted = new AtomicLong();
        boolean sampleCommitted = peer.committedBytes() >= 0;
        Thread sampler = Thread.ofPlatform().daemon().start(() -> {
            while (sampleCommitted && !Thread.currentThread().isInterrupted()) {
                peakCommitted.accumulateAndGet(peer.committedBytes(), Math::max);
                try {
                    Thread.sleep(1);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
        long start = System.nanoTime();
        for (int t = 0; t < trace.threads; t++) {
            int me = t;
            threads[t] = Thread.ofPlatform().start(() -> {
                for (int e = 0; e < trace.events; e++) {
                    if (trace.thread[e] != me) {
                        continue;
                    }
                    int id = trace.id[e];
                    for (int spins = 0; progress.get(id) != ordinal[e]; spins++) {
                        if (spins > 100) {
                            Thread.yield();
                        } else {
                            Thread.onSpinWait();
                        }
                    }
                    long size = trace.size[e];
                    switch (trace.kind[e]) {
                        case Trace.ALLOCATE -> {
                            handles[id] = trace.alignment[e] > 16 ? peer.allocateAligned(size, trace.alignment[e])
                                    : peer.allocate(size);
                            peer.touch(handles[id], size);
                            sizes[id] = size;
                            peakLive.accumulateAndGet(liveBytes.addAndGet(size), Math::max);
                        }
                        case Trace.RESIZE -> {
                            handles[id] = peer.reallocate(handles[id], sizes[id], Math.max(size, 1));
                            peer.touch(handles[id], size);
                            peakLive.accumulateAndGet(liveBytes.addAndGet(size - sizes[id]), Math::max);
                            sizes[id] = size;
                        }
                        default -> {
                            peer.free(handles[id]);
                            liveBytes.addAndGet(-sizes[id]);
                            sizes[id] = -1;
                        }
                    }
                    progress.set(id, ordinal[e] + 1);
                }
            });
        }
        for (Thread thread : threads) {
            try {
                thread.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }
        long nanos = System.nanoTime() - start;
        sampler.interrupt();
        if (sampleCommitted) {
            peakCommitted.accumulateAndGet(peer.committedBytes(), Math::max);
        }
        for (int id = 0; id < trace.ids; id++) {
            if (progress.get(id) > 0 && sizes[id] >= 0) {
                peer.free(handles[id]);
            }
        }
        return new Result(nanos, peakLive.get(), peakCommitted.get());
    }
}
